"""Our truth against every source, figure by figure: counts equal, times within stated tolerances."""

from __future__ import annotations

from dataclasses import dataclass, field

Figures = dict[str, object]
People = dict[str, dict[str, float | None]]

FIGURES = ("registered", "checked_in", "in_hall", "online_now", "peak", "peak_at", "unique", "attended", "mails")
CHECKIN_TOLERANCE = 2.0  # seconds: the exports give the second, our clock the millisecond


@dataclass
class Row:
    """One figure: ours, each source's, and whether they all agree."""

    figure: str
    expected: object
    observed: dict[str, object] = field(default_factory=dict)
    bad: list[str] = field(default_factory=list)  # the sources that disagree

    @property
    def ok(self) -> bool:
        return not self.bad


def agrees(figure: str, expected: object, seen: object, grace: float) -> bool:
    """Counts must be equal; the peak's time within the grace plus a second."""
    if figure == "peak_at" and isinstance(expected, float) and isinstance(seen, float):
        return abs(expected - seen) <= grace + 1.0
    return expected == seen


def compare_figures(expected: Figures, observed: dict[str, Figures], grace: float) -> list[Row]:
    """A row per figure that our truth has, with every source that reports it."""
    rows = []
    for figure in FIGURES:
        if figure not in expected:
            continue
        row = Row(figure, expected[figure])
        for source, figures in observed.items():
            if figure in figures:
                row.observed[source] = figures[figure]
                if not agrees(figure, expected[figure], figures[figure], grace):
                    row.bad.append(source)
        rows.append(row)
    return rows


def compare_people(expected: People, observed: dict[str, People]) -> list[str]:
    """Per person: the first check-in within CHECKIN_TOLERANCE, online minutes within one."""
    out = []
    for source, people in observed.items():
        for ref_no, ours in sorted(expected.items()):
            theirs = people.get(ref_no)
            if theirs is None:
                out.append(f"{source}: {ref_no} missing")
                continue
            mine_at, their_at = ours["checked_in_at"], theirs["checked_in_at"]
            if (mine_at is None) != (their_at is None) or (
                mine_at is not None and their_at is not None and abs(mine_at - their_at) > CHECKIN_TOLERANCE
            ):
                out.append(f"{source}: {ref_no} checked in at {their_at}, expected {mine_at}")
            minutes = round(float(ours["seconds"] or 0) / 60)
            if abs(minutes - float(theirs["minutes"] or 0)) > 1:
                out.append(f"{source}: {ref_no} watched {theirs['minutes']} min, expected {minutes}")
    return out


def exit_status(rows: list[Row], people: list[str], problems: list[str]) -> int:
    """0 when every figure and person agrees and every answer was the expected one; 1 otherwise."""
    return 0 if all(row.ok for row in rows) and not people and not problems else 1

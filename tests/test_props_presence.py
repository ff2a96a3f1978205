"""Properties of online presence: any sequence of connections, states, disconnections and waiting, for
several viewers with several tabs, gives the figures a simple model of "who is watching" gives."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import example, given, settings
from hypothesis import strategies as st

import tests.hypothesis_profile  # noqa: F401  (registers the profiles)
from checkin.errors import Refused
from checkin.presence import Change, Identity, Kind, Presence
from checkin.viewing import Interval, figures, merge, merged_by

GRACE = 10.0
MAX_TABS = 3  # per viewer, for the test (the product's cap is checked with it)
VIEWERS = [Identity.registrant(1, "sympo", n) for n in (1, 2)] + [Identity.anonymous(1, "sympo", "b" * 16)]

# An operation: ("connect", viewer), ("state", connection pick, watching), ("close", pick, how long ago it was
# last alive), ("wait", seconds).
operations = st.one_of(
    st.tuples(st.just("connect"), st.sampled_from([0, 0, 0, 1, 2])),  # mostly one viewer: tabs meet
    st.tuples(st.just("state"), st.integers(0, 20), st.booleans()),
    st.tuples(st.just("state"), st.integers(0, 20), st.booleans()),
    st.tuples(st.just("close"), st.integers(0, 20), st.sampled_from([0.0, 0.5, 3.0, 20.0, 20.0])),
    st.tuples(st.just("wait"), st.sampled_from([0.5, 1.0, 4.0, GRACE - 0.5, GRACE, GRACE + 0.5, 3 * GRACE])),
)


@dataclass
class Tab:
    viewer: int
    watching_since: float | None = None  # when this tab last started to say "watching"
    last_heard: float = 0.0


@dataclass
class Model:
    """Who watches: a viewer counts while a tab of theirs watches, or within the grace after the last one stopped."""

    now: float = 1000.0
    tabs: dict[int, Tab] = field(default_factory=dict)
    periods: dict[int, list[tuple[float, float]]] = field(default_factory=dict)  # viewer -> watched (start, end)
    ever: set[int] = field(default_factory=set)

    def watching(self, viewer: int) -> bool:
        return any(tab.viewer == viewer and tab.watching_since is not None for tab in self.tabs.values())

    def last_watched(self, viewer: int) -> float | None:
        """The last moment a tab of this viewer was known to watch (None if never)."""
        ends = [end for _start, end in self.periods.get(viewer, [])]
        return max(ends) if ends else None

    def counts(self, viewer: int) -> bool:
        last = self.last_watched(viewer)
        return self.watching(viewer) or (last is not None and self.now - last < GRACE)

    def now_count(self) -> int:
        return sum(self.counts(viewer) for viewer in range(len(VIEWERS)))

    def stop(self, tab: Tab, at: float) -> None:
        if tab.watching_since is not None:
            self.periods.setdefault(tab.viewer, []).append((tab.watching_since, at))
            tab.watching_since = None

    def viewings(self, viewer: int) -> list[tuple[float, float]]:
        """Watched periods joined where the gap between them is shorter than the grace (the viewing went on)."""
        joined: list[tuple[float, float]] = []
        for start, end in merge(self.periods.get(viewer, [])):
            if joined and start - joined[-1][1] < GRACE:
                joined[-1] = (joined[-1][0], max(joined[-1][1], end))
            else:
                joined.append((start, end))
        return joined


class Record:
    """The viewing intervals the changes make, as storage keeps them."""

    def __init__(self) -> None:
        self.intervals: list[Interval] = []

    def apply(self, changes: list[Change]) -> None:
        for change in changes:
            key, registrant = change.identity.viewer_key, change.identity.registrant_id
            if change.kind is Kind.START:
                assert not any(i.open and i.viewer_key == key for i in self.intervals), "a second open viewing"
                self.intervals.append(Interval(key, registrant, change.at, change.at, open=True))
            else:
                (index,) = [n for n, i in enumerate(self.intervals) if i.open and i.viewer_key == key]
                self.intervals[index] = Interval(key, registrant, self.intervals[index].start, change.at)

    def at(self, now: float) -> list[Interval]:
        return [
            Interval(i.viewer_key, i.registrant_id, i.start, now if i.open else i.end, i.open) for i in self.intervals
        ]


@settings(max_examples=300)
@given(steps=st.lists(operations, min_size=8, max_size=50))
@example(  # two tabs; the second stops after the first was last heard, then the first is lost
    steps=[("connect", 0), ("state", 0, True), ("connect", 0), ("state", 1, True), ("wait", 4.0),
           ("state", 1, False), ("wait", 4.0), ("close", 0, 20.0)],
)  # fmt: skip
@example(  # a tab lost silently; another starts a whole grace later; the first is found lost only then
    steps=[("connect", 0), ("connect", 0), ("connect", 0), ("connect", 0), ("state", 0, True), ("wait", 10.0),
           ("state", 1, True), ("close", 0, 20.0)],
)  # fmt: skip
def test_online_figures_follow_the_model_of_who_is_watching(steps: list[tuple[object, ...]]) -> None:
    """`now` is the model's count at every step, the peak is never below it, unique only grows."""
    presence = Presence(GRACE, max_connections_per_viewer=MAX_TABS)
    model, record = Model(), Record()
    ids = iter(range(1, 10_000))
    unique = 0
    for step in steps:
        changes: list[Change] = []
        live = sorted(model.tabs)
        if step[0] == "connect":
            viewer = int(step[1])  # type: ignore[call-overload]
            connection = next(ids)
            try:
                presence.connect(VIEWERS[viewer], connection)
            except Refused:
                assert sum(tab.viewer == viewer for tab in model.tabs.values()) >= MAX_TABS
            else:
                assert sum(tab.viewer == viewer for tab in model.tabs.values()) < MAX_TABS
                model.tabs[connection] = Tab(viewer, last_heard=model.now)
        elif step[0] == "state" and live:
            connection = live[int(step[1]) % len(live)]  # type: ignore[call-overload]
            tab, watching = model.tabs[connection], bool(step[2])
            tab.last_heard = model.now
            if watching and tab.watching_since is None:
                tab.watching_since = model.now
                model.ever.add(tab.viewer)
            elif not watching:
                model.stop(tab, model.now)
            changes += presence.state(connection, watching, model.now)
        elif step[0] == "close" and live:
            connection = live[int(step[1]) % len(live)]  # type: ignore[call-overload]
            tab = model.tabs.pop(connection)
            alive = max(tab.last_heard, model.now - float(step[2]))  # type: ignore[arg-type]
            model.stop(tab, alive)
            changes += presence.disconnect(connection, model.now, alive)
        elif step[0] == "wait":
            model.now += float(step[1])  # type: ignore[arg-type]
        changes += presence.expire(model.now)
        record.apply(changes)
        shown = figures(record.at(model.now), model.now)
        assert shown.now == model.now_count() == presence.counting()
        assert shown.peak >= shown.now
        assert shown.unique >= unique
        unique = shown.unique
        assert unique == len(model.ever)
    # Everyone leaves; once the grace is over, each viewer's record is what they watched, gaps under the grace joined.
    for connection in sorted(model.tabs):
        model.stop(model.tabs.pop(connection), model.now)
        record.apply(presence.disconnect(connection, model.now))
    model.now += GRACE
    record.apply(presence.expire(model.now))
    assert figures(record.at(model.now), model.now).now == 0 == presence.counting() == presence.connections()
    spans = merged_by(record.intervals, lambda interval: interval.viewer_key)
    for viewer, identity in enumerate(VIEWERS):
        assert spans.get(identity.viewer_key, []) == model.viewings(viewer)

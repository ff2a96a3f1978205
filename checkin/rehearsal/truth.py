"""Our own truth: what the plan made happen, recorded when the players did it, never read from the server.

The figures follow the product's definitions (docs/DASHBOARD.md, docs/WATCH.md): a person is checked in
once, in the hall while their last accepted scan was an entry; a viewer is a person (tabs merged), a
pause or reload shorter than the grace continues one viewing, an open viewing lasts until now.
Extending it (say, a door that admits waitlisted people while the hall has room) means adding a method
that records the new outcome and, where needed, a figure computed from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Registrant:
    """One registration as the plan made it."""

    key: int
    mode: str
    status: str  # registered, waitlisted, cancelled
    ref_no: str = ""
    id: int = 0
    code: str | None = None
    walkin: bool = False


@dataclass
class Truth:
    """Everything done to the event, with the real time (time.time()) it was done."""

    grace: float = 12.0
    registrants: dict[int, Registrant] = field(default_factory=dict)
    first_in: dict[int, float] = field(default_factory=dict)  # key → first standing check-in
    inside: dict[int, bool] = field(default_factory=dict)
    watching: dict[int, list[list[float | None]]] = field(default_factory=dict)  # key → [[start, stop|None]]
    mails: int = 0

    # -- registration

    def register(self, key: int, mode: str, capacity: int) -> str:
        """The status our own rule gives the next applicant: online always in, venue while seats remain."""
        seated = sum(1 for r in self.registrants.values() if r.mode == "venue" and r.status == "registered")
        status = "registered" if mode == "online" or seated < capacity else "waitlisted"
        self.registrants[key] = Registrant(key, mode, status)
        if status == "registered":
            self.mails += 1
        return status

    def cancel(self, key: int) -> int | None:
        """Cancel; the first waiting venue applicant (in order of application) moves up: their key."""
        self.registrants[key].status = "cancelled"
        waiting = [r for r in self.registrants.values() if r.status == "waitlisted"]
        if not waiting:
            return None
        waiting[0].status = "registered"
        self.mails += 1
        return waiting[0].key

    def walkin(self, key: int, at: float) -> None:
        self.registrants[key] = Registrant(key, "venue", "registered", walkin=True)
        self.check_in(key, at)

    # -- the door

    def check_in(self, key: int, at: float) -> None:
        self.first_in.setdefault(key, at)
        self.inside[key] = True

    def exit(self, key: int) -> None:
        self.inside[key] = False

    def undo(self, key: int) -> None:
        """The check-in is taken back: as if the person had not come."""
        self.first_in.pop(key, None)
        self.inside.pop(key, None)

    # -- online

    def start_watching(self, key: int, at: float) -> None:
        self.watching.setdefault(key, []).append([at, None])

    def stop_watching(self, key: int, at: float) -> None:
        self.watching[key][-1][1] = at

    def viewings(self, key: int, now: float) -> list[tuple[float, float, bool]]:
        """Merged viewings (start, end, open): gaps shorter than the grace continue one viewing."""
        merged: list[list[float]] = []
        open_ = False
        for start, stop in sorted(self.watching.get(key, []), key=lambda p: float(p[0] or 0)):
            assert start is not None
            end = now if stop is None else stop
            if merged and start - merged[-1][1] < self.grace:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
            open_ = stop is None
        last = len(merged) - 1
        return [(s, e, i == last and open_) for i, (s, e) in enumerate(merged)]

    # -- the figures

    def figures(self, now: float) -> dict[str, object]:
        """The snapshot's figures at `now`, from our own records."""
        checked_in = set(self.first_in)
        points: list[tuple[float, int]] = []
        online_now = 0
        for key in self.watching:
            views = self.viewings(key, now)
            for start, end, _open in views:
                points += [(start, 1), (end, -1)]
            if views and (views[-1][2] or now - views[-1][1] < self.grace):
                online_now += 1
        peak, peak_at, current = 0, None, 0
        for at, step in sorted(points, key=lambda p: (p[0], p[1])):  # an end sorts before a start
            current += step
            if current > peak:
                peak, peak_at = current, at
        venue = [r for r in self.registrants.values() if r.mode == "venue" and r.status == "registered"]
        watched = {k for k in self.watching if k not in checked_in}
        return {
            "registered": len(venue),
            "checked_in": len(checked_in),
            "in_hall": sum(1 for inside in self.inside.values() if inside),
            "online_now": online_now,
            "peak": peak,
            "peak_at": peak_at,
            "unique": len(self.watching),
            "attended": len(checked_in) + len(watched),
        }

    def people(self, now: float) -> dict[str, dict[str, float | None]]:
        """Per reference number: first check-in time and seconds watched (tabs and short gaps merged)."""
        out: dict[str, dict[str, float | None]] = {}
        for key, reg in self.registrants.items():
            if not reg.ref_no:
                continue
            seconds = sum(end - start for start, end, _ in self.viewings(key, now))
            out[reg.ref_no] = {"checked_in_at": self.first_in.get(key), "seconds": seconds}
        return out

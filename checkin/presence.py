"""Presence rules for online viewers: who counts as watching, and when a viewing starts and ends.

Pure: no I/O, time is a parameter. A viewer is one identity (a registrant, or an anonymous browser id)
with any number of connections (tabs, devices). It counts while at least one of its connections last
said it was watching. When none does any more (paused, hidden, closed, lost), the viewer enters a grace
period; coming back inside it continues the same viewing, so a reload or a short network drop neither
flickers the count nor opens a second interval. When the grace expires, the viewing ends at the last
moment it was known to be watching — not at the expiry — so seconds watched are not inflated.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from checkin.errors import Refusal, Refused

MAX_CONNECTIONS_PER_VIEWER = 8
# Distinct refused anonymous ids remembered per event, for the report; past this, refusals are counted
# without remembering who (made-up ids must not grow the memory without end).
REFUSED_REMEMBERED = 10_000


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a connection speaks for: the viewer key is `reg:<registrant id>` or `anon:<browser id>`.

    `address` is the client address an anonymous viewer comes from, for the per-address cap; it is not
    part of who the viewer is.
    """

    event_id: int
    slug: str
    viewer_key: str
    registrant_id: int | None = None
    address: str | None = field(default=None, compare=False)

    @classmethod
    def registrant(cls, event_id: int, slug: str, registrant_id: int) -> Identity:
        return cls(event_id, slug, f"reg:{registrant_id}", registrant_id)

    @classmethod
    def anonymous(cls, event_id: int, slug: str, browser_id: str) -> Identity:
        return cls(event_id, slug, f"anon:{browser_id}")

    @property
    def key(self) -> tuple[int, str]:
        return (self.event_id, self.viewer_key)


class Kind(enum.StrEnum):
    START = "start"
    END = "end"


@dataclass(frozen=True, slots=True)
class Change:
    """A viewing starts (at the moment it starts counting) or ends (at its last sign of life)."""

    kind: Kind
    identity: Identity
    at: float


@dataclass(slots=True)
class _Viewer:
    identity: Identity
    connections: dict[int, float | None] = field(default_factory=dict)  # connection id -> watching since, or None
    counting: bool = False
    idle_since: float | None = None  # while counting with no connection watching: the last moment one was
    watched_until: float | None = None  # the latest moment one of its connections stopped watching

    @property
    def watching(self) -> bool:
        return any(since is not None for since in self.connections.values())

    def stopped_watching(self, at: float) -> None:
        """A connection stopped watching at `at` (a lost one may have stopped before another one did)."""
        self.watched_until = at if self.watched_until is None else max(self.watched_until, at)


class Presence:
    """The live state of every viewer of every event, and the changes it makes to the record."""

    def __init__(self, grace: float, max_connections_per_viewer: int = MAX_CONNECTIONS_PER_VIEWER) -> None:
        self.grace = grace
        self.max_connections_per_viewer = max_connections_per_viewer
        self._viewers: dict[tuple[int, str], _Viewer] = {}
        self._connections: dict[int, _Viewer] = {}
        self._idle: dict[tuple[int, str], _Viewer] = {}  # counting viewers inside their grace period
        self._anonymous: dict[tuple[int, str], int] = {}  # (event id, address) -> anonymous viewers present
        self._refused: dict[int, _Refusals] = {}  # event id -> anonymous viewers turned away by the cap

    def admits_anonymous(self, identity: Identity, cap: int) -> bool:
        """Whether this anonymous viewer may join: one already present may; a new one while its address
        has fewer than `cap` anonymous viewers present (connected or inside their grace). A refusal is
        counted for the event's report."""
        if identity.address is None or identity.key in self._viewers:
            return True
        if self._anonymous.get((identity.event_id, identity.address), 0) < cap:
            return True
        self._refused.setdefault(identity.event_id, _Refusals()).add(identity.viewer_key)
        return False

    def refused_anonymous(self, event_id: int) -> int:
        """How many anonymous viewers of this event the per-address cap has turned away (this process)."""
        refusals = self._refused.get(event_id)
        return 0 if refusals is None else len(refusals.keys) + refusals.unremembered

    def connect(self, identity: Identity, connection: int) -> None:
        """A new connection of this viewer; it does not count until it says it is watching."""
        viewer = self._viewers.get(identity.key)
        if viewer is None:
            viewer = self._viewers[identity.key] = _Viewer(identity)
            if identity.address is not None:
                place = (identity.event_id, identity.address)
                self._anonymous[place] = self._anonymous.get(place, 0) + 1
        elif len(viewer.connections) >= self.max_connections_per_viewer:
            raise Refused(Refusal.TOO_MANY_CONNECTIONS)
        viewer.connections[connection] = None
        self._connections[connection] = viewer

    def state(self, connection: int, watching: bool, now: float) -> list[Change]:
        """A connection says whether its player plays (or its page is visible)."""
        viewer = self._connections[connection]
        since = viewer.connections[connection]
        if since is not None and not watching:
            viewer.stopped_watching(now)
        viewer.connections[connection] = (now if since is None else since) if watching else None
        return self._settle(viewer, now)

    def disconnect(self, connection: int, now: float, last_alive: float | None = None) -> list[Change]:
        """A connection closed or was found dead; `last_alive` is when it last showed life (default now)."""
        viewer = self._connections.pop(connection)
        moment = min(now, last_alive if last_alive is not None else now)
        changes = []
        if viewer.connections.pop(connection) is not None:
            changes = self._gap(viewer, moment)
            viewer.stopped_watching(moment)
        changes += self._settle(viewer, moment)
        self._forget_if_gone(viewer)
        return changes

    def adopt(self, identity: Identity, last_seen_at: float) -> None:
        """A viewing left open by the previous process: it continues if the viewer is back within the grace."""
        viewer = self._viewers.setdefault(identity.key, _Viewer(identity))
        if viewer.watching:  # already watching here (several servers): it simply goes on
            return
        viewer.counting = True
        viewer.idle_since = last_seen_at
        self._idle[identity.key] = viewer

    def expire(self, now: float) -> list[Change]:
        """End every viewing whose grace period is over, at its last sign of life."""
        changes = []
        for key, viewer in list(self._idle.items()):
            assert viewer.idle_since is not None
            if now - viewer.idle_since >= self.grace:
                changes.append(Change(Kind.END, viewer.identity, viewer.idle_since))
                viewer.counting, viewer.idle_since = False, None
                del self._idle[key]
                self._forget_if_gone(viewer)
        return changes

    def watching(self) -> list[Identity]:
        """Viewers counting with a connection that says it is watching (alive as of now)."""
        return [v.identity for v in self._viewers.values() if v.counting and v.idle_since is None]

    def idle(self) -> list[tuple[Identity, float]]:
        """Viewers inside their grace period, with their last sign of life."""
        return [(v.identity, v.idle_since) for v in self._idle.values() if v.idle_since is not None]

    def counts(self, identity: Identity) -> bool:
        """Whether this viewer counts here now (watching, or inside its grace period)."""
        viewer = self._viewers.get(identity.key)
        return viewer is not None and viewer.counting

    def counting(self) -> int:
        """How many viewers count now (grace periods included)."""
        return sum(1 for v in self._viewers.values() if v.counting)

    def connections(self) -> int:
        return len(self._connections)

    def anonymous_counts(self) -> dict[tuple[int, str], int]:
        """Anonymous viewers present per (event id, client address)."""
        return dict(self._anonymous)

    def _gap(self, viewer: _Viewer, lost_at: float) -> list[Change]:
        """A watching connection found lost, last alive at `lost_at`, while others watch: if they all began
        a grace period or more after the last moment any connection was known to watch, the viewer was away
        in between (the viewing ends there and a new one starts), as if the lost one had said so in time."""
        began = [since for since in viewer.connections.values() if since is not None]
        if not began or not viewer.counting:
            return []
        last_known = lost_at if viewer.watched_until is None else max(lost_at, viewer.watched_until)
        resumed = min(began)
        if resumed - last_known < self.grace:
            return []
        return [Change(Kind.END, viewer.identity, last_known), Change(Kind.START, viewer.identity, resumed)]

    def _settle(self, viewer: _Viewer, now: float) -> list[Change]:
        if viewer.watching:
            self._idle.pop(viewer.identity.key, None)
            viewer.idle_since = None
            if not viewer.counting:
                viewer.counting = True
                return [Change(Kind.START, viewer.identity, now)]
        elif viewer.counting and viewer.idle_since is None:
            # The viewing lasted until the last connection that watched stopped, not until the last one went:
            # a tab lost long after its last sign of life must not cut short what another tab watched since.
            viewer.idle_since = now if viewer.watched_until is None else viewer.watched_until
            self._idle[viewer.identity.key] = viewer
        if not viewer.watching:
            viewer.watched_until = None
        return []

    def _forget_if_gone(self, viewer: _Viewer) -> None:
        if not viewer.connections and not viewer.counting:
            forgotten = self._viewers.pop(viewer.identity.key, None) is viewer
            if forgotten and viewer.identity.address is not None:
                place = (viewer.identity.event_id, viewer.identity.address)
                if self._anonymous.get(place, 0) > 1:
                    self._anonymous[place] -= 1
                else:
                    self._anonymous.pop(place, None)


@dataclass(slots=True)
class _Refusals:
    """The anonymous ids one event has refused: remembered up to a bound, then only counted."""

    keys: set[str] = field(default_factory=set)
    unremembered: int = 0

    def add(self, key: str) -> None:
        if key in self.keys:
            return
        if len(self.keys) < REFUSED_REMEMBERED:
            self.keys.add(key)
        else:
            self.unremembered += 1


@dataclass(slots=True)
class RateLimit:
    """A token bucket: `burst` messages at once, refilled at `per_second`."""

    per_second: float
    burst: float
    tokens: float = field(init=False)
    updated: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.tokens = self.burst

    def allow(self, now: float) -> bool:
        """Whether one more message may pass at `now`."""
        if self.updated is not None:
            self.tokens = min(self.burst, self.tokens + max(0.0, now - self.updated) * self.per_second)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

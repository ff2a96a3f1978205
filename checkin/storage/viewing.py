"""Online viewing records: the figures computed from viewing_intervals, and the servers' heartbeats.

Interface shared by the dashboard, the CSV export and the admin: `online_figures` and `watch_summary`.
The computations themselves are the pure functions of `checkin.viewing`.

The last sign of life of an open viewing is the later of its own `last_seen_at` (written when it
starts, and by a clean stop) and the last heartbeat of the server that watches it (`server_id`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from checkin.presence import Change, Identity, Kind
from checkin.storage.sql import Connection
from checkin.viewing import Interval, OnlineFigures, WatchSummary, figures, merged_by, summaries

__all__ = [
    "Beat",
    "HandedOver",
    "Joined",
    "OnlineFigures",
    "OpenViewing",
    "Owners",
    "Server",
    "Step",
    "Viewers",
    "WatchSummary",
    "beat",
    "end_viewing",
    "hand_over",
    "last_viewing_id",
    "leave",
    "live_viewers",
    "new_viewers",
    "online_figures",
    "open_among",
    "record",
    "servers",
    "start_viewing",
    "take_over",
    "watch_summary",
    "watched_by",
    "watched_seconds",
]

# An open viewing's last sign of life: its own, or its server's heartbeat if that is later.
_LAST_SEEN = "MAX(v.last_seen_at, COALESCE(h.last_seen_at, v.last_seen_at))"
_SELECT = (
    f"SELECT v.viewer_key, v.registrant_id, v.started_at, {_LAST_SEEN} AS last_seen_at, v.ended_at"
    " FROM viewing_intervals v LEFT JOIN server_heartbeats h ON h.server_id = v.server_id WHERE v.event_id = ?"
)


def _intervals(conn: Connection, sql: str, params: tuple[object, ...], now: float | None) -> list[Interval]:
    """Stored rows as intervals; an open one ends at `now` (or, without `now`, at its last sign of life)."""
    return [
        Interval(
            viewer_key=row["viewer_key"],
            registrant_id=row["registrant_id"],
            start=row["started_at"],
            end=row["ended_at"] if row["ended_at"] is not None else (row["last_seen_at"] if now is None else now),
            open=row["ended_at"] is None,
        )
        for row in conn.execute(sql, params)
    ]


def online_figures(conn: Connection, event_id: int, now: float) -> OnlineFigures:
    """now / peak / peak_at / unique and the per-minute series of an event's online viewers."""
    return figures(_intervals(conn, _SELECT, (event_id,), now), now)


@dataclass(frozen=True)
class Viewers:
    """How many viewers an event has had: all of them, registrants, anonymous ones."""

    unique: int = 0
    registrants: int = 0
    anonymous: int = 0


def live_viewers(conn: Connection, event_id: int) -> int:
    """How many watch the event now: its open viewings (at most one per viewer), counted in viewing_one_open."""
    return int(
        conn.execute(
            "SELECT COUNT(*) FROM viewing_intervals WHERE event_id = ? AND ended_at IS NULL", (event_id,)
        ).fetchone()[0]
    )


def last_viewing_id(conn: Connection) -> int:
    """The newest viewing's id (of any event): the viewings up to it are the ones already counted."""
    return int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM viewing_intervals").fetchone()[0])


def new_viewers(conn: Connection, event_id: int, after_id: int) -> Viewers:
    """The viewers whose first viewing of the event came after the viewing `after_id`: the viewings since then,
    each looked up in viewing_viewer (a registrant has one viewer key, so registrants count once too)."""
    row = conn.execute(
        "SELECT COUNT(DISTINCT v.viewer_key), COUNT(DISTINCT v.registrant_id),"
        " COUNT(DISTINCT CASE WHEN v.registrant_id IS NULL THEN v.viewer_key END)"
        " FROM viewing_intervals v WHERE v.id > ? AND v.event_id = ? AND NOT EXISTS"
        " (SELECT 1 FROM viewing_intervals o WHERE o.event_id = v.event_id AND o.viewer_key = v.viewer_key"
        " AND o.id <= ?)",
        (after_id, event_id, after_id),
    ).fetchone()
    return Viewers(int(row[0]), int(row[1]), int(row[2]))


def watch_summary(conn: Connection, event_id: int) -> dict[int, WatchSummary]:
    """Per registrant id: seconds watched, first join, last leave."""
    return summaries(_intervals(conn, _SELECT + " AND v.registrant_id IS NOT NULL", (event_id,), None))


def watched_seconds(conn: Connection, event_id: int, now: float) -> float:
    """Seconds watched by all of an event's viewers, each viewer's intervals merged (tabs and devices once)."""
    spans = merged_by(_intervals(conn, _SELECT, (event_id,), now), lambda interval: interval.viewer_key)
    return sum(end - start for viewer in spans.values() for start, end in viewer)


def start_viewing(
    conn: Connection,
    event_id: int,
    viewer_key: str,
    registrant_id: int | None,
    at: float,
    server_id: str | None = None,
    *,
    claim: bool = True,
) -> None:
    """Open an interval (the viewer starts counting); one still open continues, watched by this server now
    (or, without `claim`, by the server that watches it already)."""
    conn.execute(
        "INSERT INTO viewing_intervals (event_id, viewer_key, registrant_id, started_at, last_seen_at, server_id)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (event_id, viewer_key) WHERE ended_at IS NULL"
        + (" DO UPDATE SET server_id = excluded.server_id" if claim else " DO NOTHING"),
        (event_id, viewer_key, registrant_id, at, at, server_id),
    )


def end_viewing(
    conn: Connection, event_id: int, viewer_key: str, last_seen_at: float, owner: str | None = None
) -> None:
    """Close the viewer's open interval at its last sign of life (only if `owner` watches it, when given)."""
    whose, mine = ("", ()) if owner is None else (" AND server_id = ?", (owner,))
    conn.execute(
        "UPDATE viewing_intervals SET last_seen_at = MAX(started_at, ?), ended_at = MAX(started_at, ?)"
        " WHERE event_id = ? AND viewer_key = ? AND ended_at IS NULL" + whose,
        (last_seen_at, last_seen_at, event_id, viewer_key, *mine),
    )


def hand_over(conn: Connection, identity: Identity, owner: str, heir: str) -> None:
    """The viewer's open interval, if `owner` watches it, is watched by `heir` from now on."""
    conn.execute(
        "UPDATE viewing_intervals SET server_id = ? WHERE event_id = ? AND viewer_key = ? AND ended_at IS NULL"
        " AND server_id = ?",
        (heir, identity.event_id, identity.viewer_key, owner),
    )


@dataclass(frozen=True)
class Joined:
    """Several servers: another one counts this viewer already; open an interval only if none is open."""

    identity: Identity
    at: float


@dataclass(frozen=True)
class HandedOver:
    """Several servers: `owner` (None: this server) stops counting the viewer while `heir` still does."""

    identity: Identity
    heir: str
    owner: str | None = None


Step = Change | Joined | HandedOver


def record(
    conn: Connection,
    changes: Sequence[Step],
    seen: Sequence[tuple[Identity, float]],
    server_id: str | None = None,
    *,
    shared: bool = False,
) -> None:
    """Apply starts (watched by `server_id`) and ends in order, then write the last sign of life of `seen`.

    `shared` (several servers): an end closes only an interval this server still watches.
    """
    for change in changes:
        identity = change.identity
        if isinstance(change, HandedOver):
            if (owner := change.owner or server_id) is not None:
                hand_over(conn, identity, owner, change.heir)
        elif isinstance(change, Joined) or change.kind is Kind.START:
            start_viewing(
                conn,
                identity.event_id,
                identity.viewer_key,
                identity.registrant_id,
                change.at,
                server_id,
                claim=not isinstance(change, Joined),
            )
        else:
            end_viewing(conn, identity.event_id, identity.viewer_key, change.at, server_id if shared else None)
    conn.executemany(
        "UPDATE viewing_intervals SET last_seen_at = MAX(last_seen_at, ?)"
        " WHERE event_id = ? AND viewer_key = ? AND ended_at IS NULL",
        [(at, identity.event_id, identity.viewer_key) for identity, at in seen],
    )


@dataclass(frozen=True)
class OpenViewing:
    """A viewing left open by a server that is gone, recent enough that its viewer may still come back."""

    identity: Identity
    last_seen_at: float


@dataclass(frozen=True)
class Server:
    """One running server process, as its heartbeat row names it."""

    server_id: str
    host: str
    pid: int
    started_at: float
    last_seen_at: float = 0.0


def servers(conn: Connection) -> list[Server]:
    """Every server's heartbeat row (running ones, and dead ones not yet noticed)."""
    rows = conn.execute("SELECT server_id, host, pid, started_at, last_seen_at FROM server_heartbeats")
    return [Server(row[0], row[1], row[2], row[3], row[4]) for row in rows]


@dataclass(frozen=True)
class Owners:
    """Who watches the open viewings, as a read before a heartbeat sees it: every heartbeat row, and the servers
    named by open viewings that have none (gone, their row removed by whoever took over the rest)."""

    servers: list[Server]
    heartless: frozenset[str]


def owners(conn: Connection) -> Owners:
    """The heartbeat rows and the heartless owners of open viewings (read in its own snapshot, outside the write
    that acts on them, so that beating never reads what another server's beat writes)."""
    heartless = conn.execute(
        "SELECT DISTINCT v.server_id FROM viewing_intervals v WHERE v.ended_at IS NULL AND v.server_id IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM server_heartbeats h WHERE h.server_id = v.server_id)"
    )
    return Owners(servers(conn), frozenset(str(row[0]) for row in heartless))


def beat(conn: Connection, server: Server, now: float) -> None:
    """This server is alive at `now` (one row per server, however many viewers it watches)."""
    conn.execute(
        "INSERT INTO server_heartbeats (server_id, host, pid, started_at, last_seen_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (server_id) DO UPDATE SET"
        " last_seen_at = MAX(server_heartbeats.last_seen_at, excluded.last_seen_at)",
        (server.server_id, server.host, server.pid, server.started_at, now),
    )


def take_over(
    conn: Connection, server_id: str, dead: Collection[str], now: float, grace: float, *, ownerless: bool
) -> list[OpenViewing]:
    """Open viewings of `dead` servers (and, if `ownerless`, of no running server): each is closed at its last
    sign of life if that is older than the grace, else it becomes this server's; those are returned.
    The dead servers' rows go."""
    dead_json = json.dumps(sorted(dead))
    owner = "v.server_id IN (SELECT value FROM json_each(?))"
    if ownerless:
        owner += " OR v.server_id IS NULL OR h.server_id IS NULL"
    rows = conn.execute(
        f"SELECT v.id, v.event_id, e.slug, v.viewer_key, v.registrant_id, {_LAST_SEEN} AS last"
        " FROM viewing_intervals v JOIN events e ON e.id = v.event_id"
        " LEFT JOIN server_heartbeats h ON h.server_id = v.server_id"
        f" WHERE v.ended_at IS NULL AND ({owner})",
        (dead_json,),
    ).fetchall()
    stale = [row for row in rows if row["last"] <= now - grace]
    recent = [row for row in rows if row["last"] > now - grace]
    conn.executemany(
        "UPDATE viewing_intervals SET last_seen_at = ?, ended_at = ? WHERE id = ?",
        [(row["last"], row["last"], row["id"]) for row in stale],
    )
    conn.executemany(
        "UPDATE viewing_intervals SET last_seen_at = ?, server_id = ? WHERE id = ?",
        [(row["last"], server_id, row["id"]) for row in recent],
    )
    conn.execute("DELETE FROM server_heartbeats WHERE server_id IN (SELECT value FROM json_each(?))", (dead_json,))
    return [
        OpenViewing(Identity(row["event_id"], row["slug"], row["viewer_key"], row["registrant_id"]), row["last"])
        for row in recent
    ]


def watched_by(conn: Connection, server_ids: Collection[str]) -> list[tuple[Identity, str]]:
    """The open viewings these servers watch, each with its server."""
    rows = conn.execute(
        "SELECT v.event_id, e.slug, v.viewer_key, v.registrant_id, v.server_id FROM viewing_intervals v"
        " JOIN events e ON e.id = v.event_id WHERE v.ended_at IS NULL"
        " AND v.server_id IN (SELECT value FROM json_each(?))",
        (json.dumps(sorted(server_ids)),),
    )
    return [(Identity(row[0], row[1], row[2], row[3]), row[4]) for row in rows]


def open_among(conn: Connection, identities: Collection[Identity]) -> set[tuple[int, str]]:
    """Which of these viewers have an open viewing (as (event id, viewer key))."""
    by_event: dict[int, list[str]] = {}
    for identity in identities:
        by_event.setdefault(identity.event_id, []).append(identity.viewer_key)
    found: set[tuple[int, str]] = set()
    for event_id, keys in by_event.items():
        rows = conn.execute(
            "SELECT viewer_key FROM viewing_intervals WHERE event_id = ? AND ended_at IS NULL"
            " AND viewer_key IN (SELECT value FROM json_each(?))",
            (event_id, json.dumps(keys)),
        )
        found.update((event_id, str(row[0])) for row in rows)
    return found


def leave(conn: Connection, server_id: str) -> None:
    """A clean stop: the server's row goes; its open viewings keep the last signs of life it just wrote."""
    conn.execute("DELETE FROM server_heartbeats WHERE server_id = ?", (server_id,))


def dead_servers(
    rows: Sequence[Server], me: Server, now: float, stale: float, alive: Collection[str] | None = None
) -> set[str]:
    """Servers that are gone: their process on this host has ended, or their heartbeat is older than `stale` —
    unless `alive` (the servers Redis knows alive, with several servers) names them: a server whose database
    writes are late (a lock wait, a loaded machine) is busy, not dead, while it keeps its liveness in Redis."""
    dead = set()
    for row in rows:
        if row.server_id == me.server_id:
            continue
        ended = row.host == me.host and not _process_exists(row.pid, me.pid)
        silent = row.last_seen_at < now - stale and (alive is None or row.server_id not in alive)
        if ended or silent:
            dead.add(row.server_id)
    return dead


def gone_servers(found: Owners, me: Server, now: float, stale: float, alive: Collection[str] | None = None) -> set[str]:
    """The servers whose open viewings a heartbeat takes over: dead ones, and heartless owners Redis does not
    know alive (a server taken for dead by mistake writes its row again at its next beat)."""
    heartless = found.heartless - {me.server_id} - set(alive or ())
    return dead_servers(found.servers, me, now, stale, alive) | heartless


def _process_exists(pid: int, mine: int) -> bool:
    if pid == mine:  # a restarted container may give the new server the dead one's pid
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


@dataclass(frozen=True)
class Beat:
    """What a heartbeat found: the viewings it took over that are still inside their grace, and whether this
    server's own row was gone (another server took it for dead and closed or took its viewings)."""

    taken: list[OpenViewing]
    revived: bool = False


def heartbeat(
    conn: Connection, me: Server, now: float, grace: float, gone: Collection[str], *, starting: bool = False
) -> Beat:
    """Write this server's heartbeat; take over the open viewings of the `gone` servers (and, `starting`, of any
    server without a heartbeat row). Reads no other server's row: who is gone was read before, in its own
    snapshot (`owners`), so heartbeats of several servers never conflict with each other."""
    mine = conn.execute("SELECT 1 FROM server_heartbeats WHERE server_id = ?", (me.server_id,)).fetchone()
    taken = take_over(conn, me.server_id, gone, now, grace, ownerless=starting) if gone or starting else []
    beat(conn, me, now)
    return Beat(taken, revived=mine is None and not starting)


def record_presence(
    conn: Connection,
    changes: Sequence[Step],
    seen: Sequence[tuple[Identity, float]],
    me: Server,
    beat_at: float | None,
    grace: float,
    gone: Collection[str] = (),
    *,
    shared: bool = False,
) -> Beat:
    """One write of the presence task: the changes, and this server's heartbeat if one is due (`beat_at`),
    taking over the viewings of the `gone` servers.

    `shared` (several servers over Redis): an end closes only a viewing this server watches.
    """
    record(conn, changes, seen, me.server_id, shared=shared)
    if beat_at is None:
        return Beat([])
    return heartbeat(conn, me, beat_at, grace, gone)

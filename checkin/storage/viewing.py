"""Online viewing records: the figures computed from viewing_intervals.

Interface shared by the dashboard, the CSV export and the admin: `online_figures` and `watch_summary`.
The computations themselves are the pure functions of `checkin.viewing`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from checkin.presence import Change, Identity, Kind
from checkin.viewing import Interval, OnlineFigures, WatchSummary, figures, summaries

__all__ = [
    "OnlineFigures",
    "OpenViewing",
    "WatchSummary",
    "end_viewing",
    "online_figures",
    "record",
    "recover",
    "start_viewing",
    "watch_summary",
]

_SELECT = (
    "SELECT viewer_key, registrant_id, started_at, last_seen_at, ended_at FROM viewing_intervals WHERE event_id = ?"
)


def _intervals(conn: sqlite3.Connection, sql: str, params: tuple[object, ...], now: float | None) -> list[Interval]:
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


def online_figures(conn: sqlite3.Connection, event_id: int, now: float) -> OnlineFigures:
    """now / peak / peak_at / unique and the per-minute series of an event's online viewers."""
    return figures(_intervals(conn, _SELECT, (event_id,), now), now)


def watch_summary(conn: sqlite3.Connection, event_id: int) -> dict[int, WatchSummary]:
    """Per registrant id: seconds watched, first join, last leave."""
    return summaries(_intervals(conn, _SELECT + " AND registrant_id IS NOT NULL", (event_id,), None))


def start_viewing(
    conn: sqlite3.Connection, event_id: int, viewer_key: str, registrant_id: int | None, at: float
) -> None:
    """Open an interval: the viewer starts counting."""
    conn.execute(
        "INSERT INTO viewing_intervals (event_id, viewer_key, registrant_id, started_at, last_seen_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (event_id, viewer_key) WHERE ended_at IS NULL DO NOTHING",
        (event_id, viewer_key, registrant_id, at, at),
    )


def end_viewing(conn: sqlite3.Connection, event_id: int, viewer_key: str, last_seen_at: float) -> None:
    """Close the viewer's open interval at its last sign of life."""
    conn.execute(
        "UPDATE viewing_intervals SET last_seen_at = MAX(started_at, ?), ended_at = MAX(started_at, ?)"
        " WHERE event_id = ? AND viewer_key = ? AND ended_at IS NULL",
        (last_seen_at, last_seen_at, event_id, viewer_key),
    )


def record(conn: sqlite3.Connection, changes: Sequence[Change], seen: Sequence[tuple[Identity, float]]) -> None:
    """Apply starts and ends in order, then refresh the last sign of life of open viewings (one batch)."""
    for change in changes:
        identity = change.identity
        if change.kind is Kind.START:
            start_viewing(conn, identity.event_id, identity.viewer_key, identity.registrant_id, change.at)
        else:
            end_viewing(conn, identity.event_id, identity.viewer_key, change.at)
    conn.executemany(
        "UPDATE viewing_intervals SET last_seen_at = MAX(last_seen_at, ?)"
        " WHERE event_id = ? AND viewer_key = ? AND ended_at IS NULL",
        [(at, identity.event_id, identity.viewer_key) for identity, at in seen],
    )


@dataclass(frozen=True)
class OpenViewing:
    """A viewing left open by a previous process, recent enough that its viewer may still come back."""

    identity: Identity
    last_seen_at: float


def recover(conn: sqlite3.Connection, now: float, grace: float) -> list[OpenViewing]:
    """At start-up: close viewings silent for longer than the grace at their last sign of life; return the rest."""
    conn.execute(
        "UPDATE viewing_intervals SET ended_at = last_seen_at WHERE ended_at IS NULL AND last_seen_at <= ?",
        (now - grace,),
    )
    rows = conn.execute(
        "SELECT v.event_id, e.slug, v.viewer_key, v.registrant_id, v.last_seen_at FROM viewing_intervals v"
        " JOIN events e ON e.id = v.event_id WHERE v.ended_at IS NULL"
    ).fetchall()
    return [
        OpenViewing(
            Identity(row["event_id"], row["slug"], row["viewer_key"], row["registrant_id"]), row["last_seen_at"]
        )
        for row in rows
    ]

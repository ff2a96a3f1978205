"""The counts behind the dashboard snapshot and the after-event report, read in one transaction."""

from __future__ import annotations

import json
from dataclasses import dataclass

from checkin.stats import ARRIVAL_STEP, LATEST_CHECKINS, CheckinRow, Counts, KioskCounts
from checkin.storage.events import get_event
from checkin.storage.sql import Connection
from checkin.storage.viewing import OnlineFigures, online_figures, watch_summary


class OnlineMemo:
    """The online figures last computed per event, with the state of the viewing records they came from.

    A door rush wakes the dashboards five times a second while the viewers barely change; the figures are
    only recomputed when the records changed or the second did (a snapshot's time has seconds precision).
    """

    def __init__(self) -> None:
        self._last: dict[int, tuple[tuple[object, ...], OnlineFigures]] = {}

    def figures(self, conn: Connection, event_id: int, now: float) -> OnlineFigures:
        """online_figures(conn, event_id, now), reused while nothing it depends on has changed."""
        state = conn.execute(
            "SELECT COUNT(*), MAX(id), COUNT(ended_at), COALESCE(SUM(ended_at), 0), COALESCE(SUM(registrant_id), 0)"
            " FROM viewing_intervals WHERE event_id = ?",
            (event_id,),
        ).fetchone()
        key = (now, *state)
        last = self._last.get(event_id)
        if last is not None and last[0] == key:
            return last[1]
        figures = online_figures(conn, event_id, now)
        self._last[event_id] = (key, figures)
        return figures


def snapshot_counts(conn: Connection, slug: str, now: float, memo: OnlineMemo | None = None) -> Counts:
    """Every count of one event's snapshot (run it inside one read, so they agree with each other)."""
    event = get_event(conn, slug)
    registered = conn.execute(
        "SELECT COUNT(*) FROM registrants WHERE event_id = ? AND mode = 'venue' AND status = 'registered'",
        (event.id,),
    ).fetchone()[0]
    checked_in, in_hall = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(inside), 0) FROM attendance WHERE event_id = ?", (event.id,)
    ).fetchone()
    online = online_figures(conn, event.id, now) if memo is None else memo.figures(conn, event.id, now)
    both = conn.execute(
        "SELECT COUNT(*) FROM attendance WHERE event_id = ?"
        " AND registrant_id IN (SELECT CAST(value AS BIGINT) FROM json_each(?))",
        (event.id, json.dumps(online.unique_registrants)),
    ).fetchone()[0]
    arrivals = conn.execute(
        "SELECT CAST(first_checked_in_at / ? AS INTEGER) * ?, COUNT(*) FROM attendance WHERE event_id = ?"
        " GROUP BY 1 ORDER BY 1",
        (ARRIVAL_STEP, ARRIVAL_STEP, event.id),
    ).fetchall()
    return Counts(
        slug=event.slug,
        timezone=event.timezone,
        now=now,
        ends_at=event.ends_at,
        capacity=event.capacity,
        registered=int(registered),
        checked_in=int(checked_in),
        in_hall=int(in_hall),
        online=online,
        watched_and_checked_in=int(both),
        arrivals=tuple((float(start), int(count)) for start, count in arrivals),
        kiosks=_kiosks(conn, event.id),
        latest=_latest(conn, event.id),
        hall_capacity=event.hall_limit,
    )


def _kiosks(conn: Connection, event_id: int) -> tuple[KioskCounts, ...]:
    # The last scan is the later of what the kiosk reported (its offline queue included) and what reached us.
    rows = conn.execute(
        "SELECT k.name, k.last_seen_at, k.queue_length, k.decode_fps, COALESCE(t.scans, 0) AS scans,"
        " MAX(COALESCE(k.last_scan_at, t.last_scan_at), COALESCE(t.last_scan_at, k.last_scan_at)) AS last_scan_at"
        " FROM kiosks k LEFT JOIN kiosk_scan_totals t ON t.kiosk_id = k.id"
        " WHERE k.event_id = ? AND k.revoked_at IS NULL ORDER BY k.name",
        (event_id,),
    ).fetchall()
    return tuple(
        KioskCounts(
            name=row["name"],
            last_seen_at=row["last_seen_at"],
            scans=int(row["scans"]),
            queue_length=int(row["queue_length"]),
            last_scan_at=row["last_scan_at"],
            decode_fps=row["decode_fps"],
        )
        for row in rows
    )


def _latest(conn: Connection, event_id: int) -> tuple[CheckinRow, ...]:
    rows = conn.execute(
        "SELECT r.ref_no, r.name, a.first_checked_in_at, a.first_kiosk FROM attendance a"
        " JOIN registrants r ON r.id = a.registrant_id WHERE a.event_id = ?"
        " ORDER BY a.first_checked_in_at DESC, a.registrant_id DESC LIMIT ?",
        (event_id, LATEST_CHECKINS),
    ).fetchall()
    return tuple(CheckinRow(ref_no=row[0], name=row[1], at=row[2], kiosk=row[3]) for row in rows)


@dataclass(frozen=True)
class NoShow:
    """A registered venue registrant who never checked in (and whether they watched online instead)."""

    ref_no: str
    name: str
    kana: str
    organisation: str
    watched_online: bool


def no_shows(conn: Connection, event_id: int) -> list[NoShow]:
    """Registered venue registrants without a check-in, in reference-number order."""
    rows = conn.execute(
        "SELECT r.id, r.ref_no, r.name, r.kana, r.organisation FROM registrants r"
        " WHERE r.event_id = ? AND r.mode = 'venue' AND r.status = 'registered'"
        " AND NOT EXISTS (SELECT 1 FROM attendance a WHERE a.registrant_id = r.id) ORDER BY r.ref_no",
        (event_id,),
    ).fetchall()
    watched = watch_summary(conn, event_id)
    return [
        NoShow(
            ref_no=row["ref_no"],
            name=row["name"],
            kana=row["kana"],
            organisation=row["organisation"],
            watched_online=row["id"] in watched,
        )
        for row in rows
    ]

"""The counts behind the dashboard snapshot and the after-event report, read in one transaction."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from checkin.stats import ARRIVAL_STEP, LATEST_CHECKINS, CheckinRow, Counts, KioskCounts
from checkin.storage.events import get_event
from checkin.storage.sql import Connection
from checkin.storage.viewing import (
    OnlineFigures,
    last_viewing_id,
    live_viewers,
    new_viewers,
    online_figures,
    watch_summary,
)
from checkin.viewing import MINUTE, raised


@dataclass(frozen=True)
class _Computed:
    """One full computation of an event's online figures, and what it took."""

    figures: OnlineFigures
    minute: int  # the minute of the `now` it was computed for
    last_id: int  # the newest viewing it counted
    done_at: float  # monotonic time it was done
    cost: float  # seconds it took


class OnlineMemo:
    """An event's online figures, kept between snapshots without walking every viewing each time.

    `now` (the open viewings) and the unique viewers (the last full computation's, plus the viewers whose first
    viewing is newer) are exact in every snapshot, read through indexes. The peak and the per-minute series come
    from a full computation over every viewing (`checkin.viewing.figures`), which is redone at each new minute
    and whenever what it last cost is cheap (a few milliseconds: a few thousand viewings) or was spent long
    enough ago (`SPEND` of the time since); in between they are raised to `now` (`checkin.viewing.raised`). So a
    storm of 50,000 joins costs one full computation per ~8 s instead of one per snapshot, and a small event
    stays computed in full every time.
    """

    CHEAP = 0.005  # seconds: a computation this quick is simply redone
    SPEND = 0.1  # at most this share of the time goes to full computations

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self._last: dict[int, _Computed] = {}

    def figures(self, conn: Connection, event_id: int, now: float) -> OnlineFigures:
        """online_figures(conn, event_id, now), or the last one brought up to `now` (see the class)."""
        last = self._last.get(event_id)
        started = self._clock()
        minute = math.floor(now / MINUTE)
        if (
            last is None
            or last.minute != minute
            or last.cost < self.CHEAP
            or started - last.done_at >= last.cost / self.SPEND
        ):
            last_id = last_viewing_id(conn)
            figures = online_figures(conn, event_id, now)
            done = self._clock()
            self._last[event_id] = _Computed(figures, minute, last_id, done, done - started)
            return figures
        new = new_viewers(conn, event_id, last.last_id)
        counted = last.figures
        figures = raised(counted, now, live_viewers(conn, event_id))
        return replace(
            figures,
            unique=counted.unique + new.unique,
            unique_registrants=counted.unique_registrants + new.registrants,
            unique_anonymous=counted.unique_anonymous + new.anonymous,
        )


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
        "SELECT COUNT(*) FROM attendance a WHERE a.event_id = ? AND EXISTS"
        " (SELECT 1 FROM viewing_intervals v WHERE v.registrant_id = a.registrant_id AND v.event_id = a.event_id)",
        (event.id,),
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

"""The dashboard snapshot (DESIGN.md, "The snapshot"), assembled from plain counts. No I/O.

Storage (`checkin.storage.stats`) reads the counts in one consistent read; this module decides what
they mean: who counts as attended, when a kiosk is online, how the series are bucketed.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from checkin.models import iso
from checkin.viewing import OnlineFigures

ARRIVAL_STEP = 300  # arrivals are counted per 5 minutes
ONLINE_STEP = 60  # online viewers per minute
KIOSK_ONLINE_SECONDS = 45  # kiosks beat every ~15 s: three missed beats and it shows offline
MAX_POINTS = 1440  # a day of minutes: bounds the size of one message
LATEST_CHECKINS = 10


@dataclass(frozen=True)
class KioskCounts:
    """One kiosk as stored: its last heartbeat, scans recorded, queue it reported."""

    name: str
    last_seen_at: float | None
    scans: int
    queue_length: int
    last_scan_at: float | None
    decode_fps: float | None = None  # camera frames decoded per second at the last heartbeat


@dataclass(frozen=True)
class CheckinRow:
    """One of the latest check-ins, for the organisers' list."""

    ref_no: str
    name: str
    at: float
    kiosk: str


@dataclass(frozen=True)
class Counts:
    """Everything a snapshot shows, as read from the database at one moment."""

    slug: str
    timezone: str
    now: float
    ends_at: float
    capacity: int
    registered: int
    checked_in: int
    in_hall: int
    online: OnlineFigures = field(default_factory=OnlineFigures)
    watched_and_checked_in: int = 0  # registrants who watched online and checked in
    arrivals: tuple[tuple[float, int], ...] = ()  # (bucket start, first check-ins in it)
    kiosks: tuple[KioskCounts, ...] = ()
    latest: tuple[CheckinRow, ...] = ()
    hall_capacity: int | None = None  # None: the same as `capacity`


def total_attended(counts: Counts) -> int:
    """Distinct people who attended either way: the venue takes precedence, each person once."""
    online_only = counts.online.unique_registrants - counts.watched_and_checked_in
    return counts.checked_in + online_only + counts.online.unique_anonymous


def kiosk_online(kiosk: KioskCounts, now: float) -> bool:
    """A kiosk is online while its last heartbeat is recent."""
    return kiosk.last_seen_at is not None and now - kiosk.last_seen_at <= KIOSK_ONLINE_SECONDS


def bucket(moment: float, step: int) -> float:
    """The start of the step-long bucket holding this moment (aligned to the epoch: whole JST minutes)."""
    return float(int(moment // step) * step)


def series(points: Iterable[tuple[float, int]], step: int, now: float, ends_at: float) -> list[tuple[float, int]]:
    """Gap-free buckets from the first non-empty one up to now (while the event runs) or the last one.

    The points come already counted per bucket; should two fall into one, the larger is kept.
    """
    counts: dict[float, int] = {}
    for moment, value in points:
        key = bucket(moment, step)
        counts[key] = max(counts.get(key, 0), value)
    if not counts:
        return []
    first = min(counts)
    last = max(max(counts), bucket(min(now, ends_at), step))
    first = max(first, last - step * (MAX_POINTS - 1))
    steps = int((last - first) // step) + 1
    return [(first + i * step, counts.get(first + i * step, 0)) for i in range(steps)]


@functools.lru_cache(maxsize=16)
def for_projector(message: str) -> str:
    """An encoded snapshot as a projector shows it where the event keeps names off: the latest check-ins
    with their time and kiosk only. (Every projector of an event gets the same message: encoded once.)"""
    data = json.loads(message)
    data["latest_checkins"] = [{"at": row["at"], "kiosk": row["kiosk"]} for row in data.get("latest_checkins", [])]
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


@functools.lru_cache(maxsize=8192)
def _iso(moment: float | None, timezone: str) -> str | None:
    # The series' bucket times repeat in every snapshot: format each once.
    return iso(moment, ZoneInfo(timezone))


def snapshot(counts: Counts, seq: int) -> dict[str, Any]:
    """The snapshot message, in the contract's shape."""
    online = counts.online

    def at(moment: float | None) -> str | None:
        return _iso(moment, counts.timezone)

    def points(values: list[tuple[float, int]]) -> list[list[Any]]:
        return [[at(moment), value] for moment, value in values]

    return {
        "type": "snapshot",
        "event": counts.slug,
        "at": at(counts.now),
        "seq": seq,
        "venue": {
            "capacity": counts.capacity,
            "registered": counts.registered,
            "checked_in": counts.checked_in,
            "in_hall": counts.in_hall,
            "hall_capacity": counts.capacity if counts.hall_capacity is None else counts.hall_capacity,
        },
        "online": {"now": online.now, "peak": online.peak, "peak_at": at(online.peak_at), "unique": online.unique},
        "total": {"attended": total_attended(counts)},
        "kiosks": [
            {
                "name": kiosk.name,
                "online": kiosk_online(kiosk, counts.now),
                "last_seen": at(kiosk.last_seen_at),
                "scans": kiosk.scans,
                "queue_length": kiosk.queue_length,
                "last_scan_at": at(kiosk.last_scan_at),
                "decode_fps": kiosk.decode_fps,
            }
            for kiosk in counts.kiosks
        ],
        "series": {
            "arrivals": points(series(counts.arrivals, ARRIVAL_STEP, counts.now, counts.ends_at)),
            "online": points(series(online.series, ONLINE_STEP, counts.now, counts.ends_at)),
        },
        "latest_checkins": [
            {"ref_no": row.ref_no, "name": row.name, "at": at(row.at), "kiosk": row.kiosk} for row in counts.latest
        ],
    }


@dataclass(frozen=True)
class ReportCounts:
    """The after-event report's counts: the final snapshot's, and how the venue's people came."""

    snapshot: Counts
    pre_registered: int  # venue registrants registered beforehand (walk-ins not included)
    pre_registered_arrived: int  # of those, checked in
    online_registrants_at_venue: int  # registered to watch online, checked in at the door instead
    walk_ins: int  # registered at the door (当日参加), checked in
    watched_seconds: float  # every viewer's time watched, each viewer's tabs and devices counted once


def report_figures(counts: ReportCounts) -> dict[str, Any]:
    """The report's figures: attendance rate, the venue's and the online breakdowns, both ways, no-shows."""
    snap, online = counts.snapshot, counts.snapshot.online
    minutes = counts.watched_seconds / 60
    return {
        "venue": {
            "registered": counts.pre_registered,
            "arrived": counts.pre_registered_arrived,
            "rate": counts.pre_registered_arrived / counts.pre_registered if counts.pre_registered else None,
            "no_shows": counts.pre_registered - counts.pre_registered_arrived,
            "walk_ins": counts.walk_ins,
            "online_registrants": counts.online_registrants_at_venue,
            "checked_in": snap.checked_in,
            "capacity": snap.capacity,
        },
        "online": {
            "unique": online.unique,
            "registrants": online.unique_registrants,
            "anonymous": online.unique_anonymous,
            "peak": online.peak,
            "peak_at": _iso(online.peak_at, snap.timezone),
            "minutes": round(minutes),
            "minutes_per_viewer": round(minutes / online.unique, 1) if online.unique else None,
        },
        "both": snap.watched_and_checked_in,
        "total": total_attended(snap),
    }

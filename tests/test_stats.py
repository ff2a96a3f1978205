"""The snapshot's rules: who counts as attended, when a kiosk is online, how the series are bucketed."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from checkin.models import parse_iso
from checkin.stats import (
    KIOSK_ONLINE_SECONDS,
    MAX_POINTS,
    CheckinRow,
    Counts,
    KioskCounts,
    kiosk_online,
    series,
    snapshot,
    total_attended,
)
from checkin.storage.viewing import OnlineFigures

NOW = parse_iso("2023-11-27T13:05:30+09:00")
ENDS = parse_iso("2023-11-27T16:30:00+09:00")


BASE = Counts(
    slug="sympo",
    timezone="Asia/Tokyo",
    now=NOW,
    ends_at=ENDS,
    capacity=300,
    registered=290,
    checked_in=120,
    in_hall=118,
)


def counts(**changes: Any) -> Counts:
    return replace(BASE, **changes)


def test_a_person_in_the_hall_who_also_watched_counts_once() -> None:
    """total.attended: the venue's check-ins plus online registrants not checked in, plus anonymous viewers."""
    online = OnlineFigures(unique=5, unique_registrants=3, unique_anonymous=2)
    assert total_attended(counts(checked_in=10, online=online, watched_and_checked_in=1)) == 10 + 2 + 2


def test_total_without_viewers_is_the_venue() -> None:
    """With nobody online, total attendance is the check-in count."""
    assert total_attended(counts(checked_in=7)) == 7


def test_kiosk_is_online_while_its_heartbeat_is_recent() -> None:
    """Online up to KIOSK_ONLINE_SECONDS after the last heartbeat; never seen means offline."""
    seen = KioskCounts("受付1", NOW - KIOSK_ONLINE_SECONDS, 0, 0, None)
    late = KioskCounts("受付2", NOW - KIOSK_ONLINE_SECONDS - 1, 0, 0, None)
    never = KioskCounts("受付3", None, 0, 0, None)
    assert [kiosk_online(k, NOW) for k in (seen, late, never)] == [True, False, False]


def test_series_fills_gaps_and_runs_to_now_during_the_event() -> None:
    """Empty buckets between arrivals are zeros, and the series reaches the current bucket."""
    start = parse_iso("2023-11-27T12:50:00+09:00")
    points = series([(start + 10, 3), (start + 310 * 2, 4)], 300, NOW, ENDS)
    assert points == [(start, 3), (start + 300, 0), (start + 600, 4), (start + 900, 0)]


def test_series_after_the_event_stops_at_its_end() -> None:
    """Long after the event, the series end at the event's end, not today."""
    start = parse_iso("2023-11-27T16:20:00+09:00")
    points = series([(start, 1)], 300, ENDS + 86400 * 30, ENDS)
    assert [moment for moment, _ in points] == [start, start + 300, start + 600]


def test_series_keep_the_latest_day_at_most() -> None:
    """An old stray point never makes the message grow past MAX_POINTS buckets."""
    points = series([(NOW - 10 * 86400, 1), (NOW, 2)], 60, NOW, ENDS)
    assert len(points) == MAX_POINTS
    assert points[-1][1] == 2


def test_series_of_nothing_is_empty() -> None:
    """No arrivals yet: an empty series."""
    assert series([], 300, NOW, ENDS) == []


def test_snapshot_has_the_contract_shape() -> None:
    """Every field of DESIGN.md's snapshot, times in ISO 8601 with the event's offset."""
    online = OnlineFigures(now=3, peak=4, peak_at=NOW - 60, unique=6, series=((NOW - 90, 2),))
    kiosk = KioskCounts("受付1", NOW - 5, 57, 2, NOW - 30, decode_fps=3.5)
    latest = (CheckinRow("W0000001", "参加 1", NOW - 30, "受付1"),)
    message = snapshot(counts(online=online, kiosks=(kiosk,), latest=latest, arrivals=((NOW - 30, 1),)), 9)
    assert list(message) == [
        "type",
        "event",
        "at",
        "seq",
        "venue",
        "online",
        "total",
        "kiosks",
        "series",
        "latest_checkins",
    ]
    assert (message["type"], message["event"], message["at"], message["seq"]) == (
        "snapshot",
        "sympo",
        "2023-11-27T13:05:30+09:00",
        9,
    )
    assert message["venue"] == {
        "capacity": 300,
        "registered": 290,
        "checked_in": 120,
        "in_hall": 118,
        "hall_capacity": 300,
    }
    assert message["online"] == {"now": 3, "peak": 4, "peak_at": "2023-11-27T13:04:30+09:00", "unique": 6}
    assert message["kiosks"] == [
        {
            "name": "受付1",
            "online": True,
            "last_seen": "2023-11-27T13:05:25+09:00",
            "scans": 57,
            "queue_length": 2,
            "last_scan_at": "2023-11-27T13:05:00+09:00",
            "decode_fps": 3.5,
        }
    ]
    assert message["series"]["arrivals"] == [["2023-11-27T13:05:00+09:00", 1]]
    assert message["series"]["online"] == [["2023-11-27T13:04:00+09:00", 2], ["2023-11-27T13:05:00+09:00", 0]]
    assert message["latest_checkins"] == [
        {"ref_no": "W0000001", "name": "参加 1", "at": "2023-11-27T13:05:00+09:00", "kiosk": "受付1"}
    ]


def test_snapshot_without_a_peak_has_no_peak_time() -> None:
    """Before anyone watched, peak_at is null."""
    assert snapshot(counts(), 1)["online"]["peak_at"] is None

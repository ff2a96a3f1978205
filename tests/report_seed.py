"""An event day with known truth, for the after-event report: who came, how, when, and who watched how long."""

from __future__ import annotations

from dataclasses import dataclass

from checkin.models import Event, Mode
from checkin.registration import Application
from checkin.scans import Method, ScanRequest, WalkIn
from checkin.storage import Database
from checkin.storage.scans import Caller, record_scan, register_walkin
from checkin.storage.viewing import end_viewing, start_viewing
from tests.door_helpers import code_of, register, scan_id

MINUTE = 60.0


@dataclass(frozen=True)
class Truth:
    """What the report must say about the seeded day."""

    no_show_refs: list[str]
    walk_in_names: list[str]
    peak_at: float


# The figures of the seeded day, worked out by hand (see `seed_day`).
EXPECTED = {
    "venue": {
        "registered": 10,
        "arrived": 7,
        "rate": 0.7,
        "no_shows": 3,
        "walk_ins": 2,
        "online_registrants": 1,
        "checked_in": 10,  # 7 registered for the venue, 1 registered online, 2 walk-ins
        "capacity": 50,
    },
    "online": {
        "unique": 4,  # two online registrants, one venue registrant, one anonymous viewer
        "registrants": 3,
        "anonymous": 1,
        "peak": 4,
        "minutes": 75,  # 30 + 10 + 20 + 15
        "minutes_per_viewer": 18.8,  # 75 / 4 = 18.75
    },
    "both": 1,  # the venue registrant who also watched
    "total": 13,  # 10 at the venue, 2 online registrants who only watched, 1 anonymous viewer
}


def seed_day(db: Database, event: Event) -> Truth:
    """10 venue and 3 online registrants; 7 + 1 check in, 2 walk-ins, 4 viewers (one of them at the venue too)."""
    start = event.starts_at
    venue = register(db, event, 10)
    online = register(db, event, 3, Mode.ONLINE, start=10)
    door = Caller("受付1")
    for minute, person in enumerate([*venue[:7], online[0]]):
        scan = ScanRequest(scan_id(), code=code_of(person))
        assert db.write_sync(record_scan, event, scan, door, start + minute * MINUTE).recorded
    walk_in_names = ["当日 一郎", "当日 二郎"]
    for minute, name in enumerate(walk_in_names, start=20):
        app = Application(name, "トウジツ", "", "", Mode.VENUE)
        walk_in = WalkIn(app, ScanRequest(scan_id(), method=Method.WALKIN))
        db.write_sync(register_walkin, event, walk_in, door, start + minute * MINUTE)
    viewers = [
        (f"r{online[1].registrant.id}", online[1].registrant.id, 0, 30),
        (f"r{online[2].registrant.id}", online[2].registrant.id, 10, 20),
        (f"r{venue[0].registrant.id}", venue[0].registrant.id, 0, 20),
        ("anon-report-viewer-1", None, 5, 20),
    ]
    for key, registrant_id, joined, left in viewers:
        db.write_sync(start_viewing, event.id, key, registrant_id, start + joined * MINUTE)
        db.write_sync(end_viewing, event.id, key, start + left * MINUTE)
    return Truth(
        no_show_refs=sorted(person.registrant.ref_no for person in venue[7:]),
        walk_in_names=walk_in_names,
        peak_at=start + 10 * MINUTE,
    )

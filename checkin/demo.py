"""The demo: the symposium of 2023-11-27 with sample registrants, and staff credentials to try it."""

from __future__ import annotations

import asyncio
import os
import random
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from checkin import staff
from checkin.errors import EventNotFound
from checkin.models import Event, Mode, Role, parse_iso
from checkin.registration import Application
from checkin.roster import import_csv
from checkin.storage import Database, users
from checkin.storage import registrants as store
from checkin.storage.events import create_event, get_event
from checkin.storage.staff import create_token

REPO_ROOT = Path(__file__).resolve().parent.parent
SLUG = "telework2023"
DEMO_LOGIN = "admin"
SYMPOSIUM = Event(
    id=0,
    slug=SLUG,
    title="「働く、を変える」テレワークイベント",
    starts_at=parse_iso("2023-11-27T13:30:00+09:00"),
    ends_at=parse_iso("2023-11-27T16:30:00+09:00"),
    capacity=300,
    venue_name="御茶ノ水ソラシティ 2F ホール",
    venue_address="東京都千代田区神田駿河台4-6",
    map_url="https://www.openstreetmap.org/search?query=%E5%BE%A1%E8%8C%B6%E3%83%8E%E6%B0%B4%E3%82%BD%E3%83%A9%E3%82%B7%E3%83%86%E3%82%A3",
    stream_url="",
    anonymous_watch=True,
)

_SURNAMES = [
    ("佐藤", "サトウ"),
    ("鈴木", "スズキ"),
    ("髙橋", "タカハシ"),
    ("田中", "タナカ"),
    ("山﨑", "ヤマサキ"),
]
_GIVEN = [("翔太", "ショウタ"), ("花子", "ハナコ"), ("健", "ケン"), ("美咲", "ミサキ"), ("大輔", "ダイスケ")]
_ORGS = ["総務省", "厚生労働省", "株式会社テレワーク研究所", "一般社団法人日本テレワーク協会", ""]


def generated_applications(count: int, seed: int = 2023) -> list[Application]:
    """Fictional registrants when no sample file is at hand."""
    rng = random.Random(seed)
    apps = []
    for number in range(count):
        surname, surname_kana = rng.choice(_SURNAMES)
        given, given_kana = rng.choice(_GIVEN)
        apps.append(
            Application(
                name=f"{surname} {given}",
                kana=f"{surname_kana} {given_kana}",
                email=f"demo{number:04d}@example.jp",
                organisation=rng.choice(_ORGS),
                mode=Mode.VENUE if rng.random() < 0.5 else Mode.ONLINE,
            )
        )
    return apps


@dataclass(frozen=True)
class DemoCredentials:
    organiser_login: str
    organiser_password: str
    kiosk_token: str
    dashboard_token: str


def sample_file(environ: Mapping[str, str] | None = None) -> Path:
    """The registrant sample: $CHECKIN_DEMO_CSV, else ../shared/data/ beside the repository."""
    env = os.environ if environ is None else environ
    return Path(env.get("CHECKIN_DEMO_CSV") or REPO_ROOT.parent / "shared" / "data" / "registrants-sample.csv")


def seed_registrants(db: Database, event: Event, now: float, sample: Path | None = None) -> int:
    """Fill the demo event from the sample file, or with generated registrants where it is absent; how many."""
    sample = sample or sample_file()
    if sample.is_file():
        report = asyncio.run(import_csv(db, event, sample.read_bytes(), now=now, skip_bad_rows=True, actor="demo"))
        return report.created + report.updated + report.unchanged
    apps = generated_applications(200)
    for number, app in enumerate(apps, start=1):
        db.write_sync(store.register, event, app, now, source="import", ref_no=f"R{number:07d}", enforce_open=False)
    return len(apps)


def ensure_demo(db: Database, now: float) -> tuple[Event, DemoCredentials | None]:
    """Create the demo event once; on the first run also staff credentials (printed by `serve --demo`)."""
    try:
        return db.read_sync(get_event, SLUG), None
    except EventNotFound:
        pass
    event = db.write_sync(create_event, SYMPOSIUM, now)
    seed_registrants(db, event, now)
    _, kiosk = db.write_sync(create_token, event.id, Role.KIOSK, "受付1", now, "demo")
    _, dashboard = db.write_sync(create_token, event.id, Role.DASHBOARD, "projector", now, "demo")
    password = secrets.token_urlsafe(9)
    password_hash = staff.hash_password(password)
    if db.read_sync(users.find_user, DEMO_LOGIN) is None:
        db.write_sync(users.create_user, DEMO_LOGIN, password_hash, Role.ORGANISER, now, "demo")
    else:
        db.write_sync(users.set_password, DEMO_LOGIN, password_hash, now, "demo")
    return event, DemoCredentials(DEMO_LOGIN, password, kiosk, dashboard)

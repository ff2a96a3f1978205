"""The one door for changes: a write is committed, then the live hub hears of it, from every kind of endpoint."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from checkin.hub import Hub
from checkin.models import Event, Role
from checkin.settings import Settings
from checkin.storage import Database
from checkin.storage.events import audit
from checkin.storage.scans import ScanOutcome
from checkin.writes import Writes
from tests.conftest import ORGANISER, make_token, make_user
from tests.utils import LiveServer

# Far longer than any test: a snapshot that arrives was woken by a change, never by the hub's own tick.
NEVER = 3600.0
# Only so that a missing snapshot fails the test instead of hanging it; never a measure of speed.
HANG_GUARD = 30.0


class ToldHub(Hub):
    """A hub that also notes which events it was told of, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.told: list[str] = []

    def changed(self, slug: str) -> None:
        self.told.append(slug)
        super().changed(slug)


def outcome(conn: sqlite3.Connection, recorded: bool) -> ScanOutcome:
    audit(conn, None, 0.0, "test", "test.write", "")
    return ScanOutcome("{}", recorded)


def refuse(conn: sqlite3.Connection) -> None:
    audit(conn, None, 0.0, "test", "test.write", "")
    raise LookupError("refused")


def entries(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM audit_log WHERE action = 'test.write'").fetchone()[0])


async def test_a_change_is_committed_before_the_hub_hears_of_it(db: Database) -> None:
    """The hub is told only once the write is committed: what it then reads shows the change."""
    hub = Hub()
    seen: list[int] = []
    hub.changed = lambda slug: seen.append(db.read_sync(entries))  # type: ignore[method-assign]
    await Writes(db, hub).change("sympo", outcome, True)
    assert seen == [1]


async def test_the_result_decides_whether_anyone_is_told(db: Database) -> None:
    """A write that recorded nothing (a retried scan) or that failed tells nobody; `store` never tells."""
    hub = ToldHub()
    writes = Writes(db, hub)
    assert (await writes.change("sympo", outcome, False)).recorded is False
    with pytest.raises(LookupError):
        await writes.change("sympo", refuse)
    await writes.store(outcome, True)
    assert hub.told == []
    await writes.change("sympo", outcome, True)
    await writes.change({"b", "a"}, audit, None, 0.0, "test", "test.write", "")
    assert hub.told == ["sympo", "a", "b"]
    assert await db.read(entries) == 4  # the refused write was rolled back alone


async def test_without_a_hub_the_write_still_happens(db: Database) -> None:
    """On the command line no dashboard listens: the write is made, nobody is told."""
    await Writes(db).change("sympo", outcome, True)
    assert await db.read(entries) == 1


# --- every kind of endpoint, through a real server, to a real dashboard socket


@dataclass
class Door:
    """What the endpoints' changes need: the server, an HTTP client, credentials and a registrant."""

    live: LiveServer
    http: httpx.AsyncClient
    event: Event
    kiosk: str
    csrf: str = ""
    registrant: dict[str, Any] | None = None
    ticket: str = ""
    viewer: ClientConnection | None = None  # a watch socket, kept open until the test ends

    def auth(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.kiosk}"}

    async def register(self, number: int) -> None:
        person = {"name": f"参加 {number}", "kana": "サンカ", "email": f"p{number}@example.jp", "mode": "venue"}
        answer = await self.http.post("/api/v1/events/sympo/registrations", json=person)
        assert answer.status_code == 201, answer.text
        self.registrant, self.ticket = answer.json()["registrant"], answer.json()["ticket"]["code"]

    async def scan(self) -> None:
        body = {"scan_id": str(uuid.uuid4()), "code": self.ticket}
        answer = await self.http.post("/api/v1/events/sympo/scans", json=body, headers=self.auth())
        assert answer.json()["result"] == "ok", answer.text

    async def log_in(self) -> None:
        form = (await self.http.get("/admin/login")).text
        found = re.search(r'name="csrf" value="([^"]+)"', form)
        assert found is not None
        login, password = ORGANISER
        answer = await self.http.post(
            "/admin/login", data={"login": login, "password": password, "csrf": found.group(1)}, follow_redirects=True
        )
        token = re.search(r'name="csrf-token" content="([^"]+)"', answer.text)
        assert token is not None, answer.text
        self.csrf = token.group(1)

    def one(self, action: str) -> str:
        assert self.registrant is not None
        return f"/admin/events/sympo/registrants/{self.registrant['id']}/{action}"


def checked_in(snapshot: dict[str, Any]) -> int:
    return int(snapshot["venue"]["checked_in"])


def registered(snapshot: dict[str, Any]) -> int:
    return int(snapshot["venue"]["registered"])


def kiosks(snapshot: dict[str, Any]) -> list[Any]:
    return [(kiosk["name"], kiosk["queue_length"]) for kiosk in snapshot["kiosks"]]


def online(snapshot: dict[str, Any]) -> int:
    return int(snapshot["online"]["now"])


async def scan_by_token(door: Door) -> None:
    await door.scan()


async def scan_by_login(door: Door) -> None:
    body = {"scan_id": str(uuid.uuid4()), "code": door.ticket}
    answer = await door.http.post("/api/v1/events/sympo/scans", json=body, headers={"x-csrf-token": door.csrf})
    assert answer.json()["result"] == "ok", answer.text


async def walk_in(door: Door) -> None:
    body = {"scan_id": str(uuid.uuid4()), "name": "当日 太郎", "kana": "トウジツ タロウ"}
    answer = await door.http.post("/api/v1/events/sympo/walkins", json=body, headers=door.auth())
    assert answer.json()["result"] == "ok", answer.text


async def undo(door: Door) -> None:
    assert door.registrant is not None
    path = f"/api/v1/events/sympo/checkins/{door.registrant['id']}"
    assert (await door.http.delete(path, headers=door.auth())).json()["result"] == "undone"


async def kiosk_heartbeat(door: Door) -> None:
    beat = {"queue_length": 7, "direction": "in", "online": True}
    answer = await door.http.post("/api/v1/events/sympo/kiosk/heartbeat", json=beat, headers=door.auth())
    assert answer.status_code == 200, answer.text


async def api_registration(door: Door) -> None:
    await door.register(2)


async def page_registration(door: Door) -> None:
    form = {
        "name": "髙橋 﨑子",
        "kana": "タカハシ サキコ",
        "email": "saki@example.jp",
        "mode": "venue",
        "consent": "yes",
    }
    assert (await door.http.post("/e/sympo/", data=form)).status_code == 303


async def page_cancel(door: Door) -> None:
    assert (await door.http.post(f"/t/{door.ticket}/cancel")).status_code == 303


async def admin_cancel(door: Door) -> None:
    assert (await door.http.post(door.one("cancel"), data={"csrf": door.csrf})).status_code == 303


async def admin_check_in(door: Door) -> None:
    answer = await door.http.post(door.one("checkin"), data={"csrf": door.csrf})
    assert answer.status_code == 303 and "checkin_ok" in answer.headers["location"]


async def admin_import(door: Door) -> None:
    rows = (
        "受付番号,氏名,フリガナ,メールアドレス,所属,参加方法\r\n"
        "R1,山田 花子,ヤマダ ハナコ,yamada@example.jp,,会場参加\r\n"
    )
    upload = {"file": ("list.csv", rows.encode("utf-8-sig"), "text/csv")}
    answer = await door.http.post("/admin/events/sympo/files", data={"csrf": door.csrf}, files=upload)
    assert answer.status_code == 200, answer.text


async def admin_new_kiosk(door: Door) -> None:
    answer = await door.http.post("/admin/events/sympo/kiosks", data={"csrf": door.csrf, "kiosk_name": "受付2"})
    assert answer.status_code == 201, answer.text


async def viewer_joins(door: Door) -> None:
    socket = await connect(f"{door.live.ws_url}/ws/events/sympo/watch?anon={'v' * 24}")
    assert json.loads(await socket.recv())["type"] == "hello"
    await socket.send(json.dumps({"type": "state", "watching": True}))
    assert json.loads(await socket.recv())["type"] == "ack"
    door.viewer = socket


Act = Callable[[Door], Awaitable[None]]
Figure = Callable[[dict[str, Any]], object]
# (what the endpoint does, what must be done first, the snapshot figure that the change moves)
CASES: dict[str, tuple[Act, tuple[str, ...], Figure]] = {
    "kiosk scan": (scan_by_token, ("register",), checked_in),
    "staff scan": (scan_by_login, ("register", "log_in"), checked_in),
    "kiosk walk-in": (walk_in, (), checked_in),
    "kiosk undo": (undo, ("register", "scan"), checked_in),
    "kiosk heartbeat": (kiosk_heartbeat, (), kiosks),
    "api registration": (api_registration, (), registered),
    "page registration": (page_registration, (), registered),
    "page cancel": (page_cancel, ("register",), registered),
    "admin cancel": (admin_cancel, ("register", "log_in"), registered),
    "admin check-in": (admin_check_in, ("register", "log_in"), checked_in),
    "admin import": (admin_import, ("log_in",), registered),
    "admin new kiosk": (admin_new_kiosk, ("log_in",), kiosks),
    "presence": (viewer_joins, (), online),
}


@pytest.fixture
async def door(live: LiveServer, settings: Settings, event: Event) -> AsyncIterator[Door]:
    make_user(settings)
    async with httpx.AsyncClient(base_url=live.url) as http:
        yield Door(live, http, event, make_token(settings, event, Role.KIOSK, "受付1"))


async def next_snapshot(dashboard: ClientConnection) -> dict[str, Any]:
    async with asyncio.timeout(HANG_GUARD):
        snapshot: dict[str, Any] = json.loads(await dashboard.recv())
    return snapshot


@pytest.mark.parametrize("name", CASES)
async def test_each_kind_of_change_reaches_a_subscribed_dashboard(
    door: Door, settings: Settings, event: Event, name: str
) -> None:
    """After the change, the dashboard gets a snapshot that shows it, woken by the change, not by the tick."""
    act, before, figure = CASES[name]
    for step in before:
        await (door.register(1) if step == "register" else getattr(door, step)())
    hub: Hub = door.live.server.config.app.state.services.hub
    hub.tick = NEVER
    token = make_token(settings, event, Role.DASHBOARD)
    async with connect(f"{door.live.ws_url}/ws/events/sympo/dashboard?token={token}") as dashboard:
        first = await next_snapshot(dashboard)
        await act(door)
        second = await next_snapshot(dashboard)
    assert second["seq"] > first["seq"]
    assert figure(second) != figure(first)
    if door.viewer is not None:
        await door.viewer.close()

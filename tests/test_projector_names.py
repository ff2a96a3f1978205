"""Names on the projector are an event setting, off by default: a dashboard token then sees the latest
check-ins with their time and kiosk only; organisers always see who."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from checkin.cli import main
from checkin.models import Event, Role
from checkin.settings import Settings
from checkin.storage import opened
from checkin.storage.events import get_event, update_event
from tests.conftest import make_token
from tests.door_helpers import code_of, register, scan_id
from tests.test_admin import settings_form

STATS = "/api/v1/events/sympo/stats"
SOCKET = "/ws/events/sympo/dashboard"


def _check_in_two(client: TestClient, settings: Settings, event: Event) -> None:
    kiosk = {"authorization": f"Bearer {make_token(settings, event, Role.KIOSK, '受付1')}"}
    with opened(settings) as db:
        people = register(db, event, 2)
    for registration in people:
        body = {"code": code_of(registration), "scan_id": scan_id()}
        assert client.post("/api/v1/events/sympo/scans", json=body, headers=kiosk).json()["result"] == "ok"


def _latest(client: TestClient, settings: Settings, event: Event, role: Role) -> list[dict[str, Any]]:
    headers = {"authorization": f"Bearer {make_token(settings, event, role)}"}
    rows: list[dict[str, Any]] = client.get(STATS, headers=headers).json()["latest_checkins"]
    return rows


def test_a_projector_sees_times_and_kiosks_but_no_names_by_default(
    client: TestClient, settings: Settings, event: Event
) -> None:
    """Off by default: a dashboard token's /stats has time and kiosk only; an organiser's has the names."""
    assert not event.projector_names
    _check_in_two(client, settings, event)
    projector = _latest(client, settings, event, Role.DASHBOARD)
    assert len(projector) == 2 and all(set(row) == {"at", "kiosk"} for row in projector)
    assert projector[0]["kiosk"] == "受付1"
    organiser = _latest(client, settings, event, Role.ORGANISER)
    assert {row["name"] for row in organiser} == {"山田 0郎", "山田 1郎"}


def test_the_projector_socket_carries_no_names_either(client: TestClient, settings: Settings, event: Event) -> None:
    """The dashboard socket of a dashboard token sends snapshots without names; an organiser's has them."""
    _check_in_two(client, settings, event)
    for role, named in ((Role.DASHBOARD, False), (Role.ORGANISER, True)):
        with client.websocket_connect(f"{SOCKET}?token={make_token(settings, event, role)}") as ws:
            latest = ws.receive_json()["latest_checkins"]
        assert len(latest) == 2
        assert all(("name" in row) is named and ("ref_no" in row) is named for row in latest)


def test_an_event_that_allows_names_shows_them_on_the_projector(
    client: TestClient, settings: Settings, event: Event
) -> None:
    """With projector_names on, a dashboard token sees who checked in."""
    with opened(settings) as db:
        db.write_sync(update_event, event.slug, {"projector_names": True}, "test", 0.0)
    _check_in_two(client, settings, event)
    assert {row["name"] for row in _latest(client, settings, event, Role.DASHBOARD)} == {"山田 0郎", "山田 1郎"}


def test_the_admin_form_turns_projector_names_on_and_off(client: TestClient, organiser: str, event: Event) -> None:
    """The settings form has the checkbox; unticked means off."""
    for form_value, stored in (("on", True), ("", False)):
        form = settings_form(event, organiser, projector_names=form_value)
        assert client.post("/admin/events/sympo/settings", data=form, follow_redirects=False).status_code == 303
        page = client.get("/admin/events/sympo/settings").text
        assert ('name="projector_names" type="checkbox" checked' in page) is stored


def test_cli_event_create_takes_projector_names(tmp_path: Path) -> None:
    """`checkin event create --projector-names` turns the setting on."""
    db = tmp_path / "c.db"
    times = ["--starts", "2023-11-27T13:30+09:00", "--ends", "2023-11-27T16:30+09:00", "--capacity", "5"]
    assert main(["event", "create", "named", "--db", str(db), "--title", "t", *times, "--projector-names"]) == 0
    with opened(Settings(db_path=db)) as database:
        assert database.read_sync(get_event, "named").projector_names

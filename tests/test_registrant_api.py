"""GET /api/v1/events/{slug}/registrants/{id}: one registrant with ticket, check-ins and viewing (organisers)."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from starlette.testclient import TestClient

from checkin.models import Event, Role
from checkin.settings import Settings
from checkin.storage import opened
from checkin.storage.viewing import end_viewing, start_viewing
from tests.conftest import make_token, seed_event
from tests.door_helpers import code_of, register, scan_id
from tests.utils import EVENT

pytestmark = pytest.mark.both_engines


def _bearer(settings: Settings, event: Event, role: Role) -> dict[str, str]:
    return {"authorization": f"Bearer {make_token(settings, event, role)}"}


def test_organiser_sees_ticket_checkins_with_undo_and_viewing_time(
    client: TestClient, settings: Settings, event: Event
) -> None:
    """In, out, undone, in again: each check-in with time, direction and kiosk; watching time in minutes."""
    with opened(settings) as db:
        registration = register(db, event, 1)[0]
        rid = registration.registrant.id
        db.write_sync(start_viewing, event.id, f"r{rid}", rid, 1_700_000_000.0)
        db.write_sync(end_viewing, event.id, f"r{rid}", 1_700_000_000.0 + 25 * 60)
    kiosk, organiser = _bearer(settings, event, Role.KIOSK), _bearer(settings, event, Role.ORGANISER)
    scans = f"/api/v1/events/{event.slug}/scans"
    for direction in ("in", "out"):
        body = {"code": code_of(registration), "scan_id": scan_id(), "direction": direction}
        assert client.post(scans, json=body, headers=kiosk).json()["result"] in {"ok", "exited"}
    assert client.delete(f"/api/v1/events/{event.slug}/checkins/{rid}", headers=kiosk).status_code == 200
    time.sleep(0.01)  # the next scan is received after the undo
    client.post(scans, json={"code": code_of(registration), "scan_id": scan_id()}, headers=kiosk)

    response = client.get(f"/api/v1/events/{event.slug}/registrants/{rid}", headers=organiser)
    assert response.status_code == 200
    body = response.json()
    assert body["registrant"]["id"] == rid and body["registrant"]["inside"] is True
    assert body["ticket"]["code"] == code_of(registration)
    assert body["ticket"]["url"].endswith(f"/t/{code_of(registration)}")
    assert [(c["direction"], c["kiosk"], c["undone"]) for c in body["checkins"]] == [
        ("in", "test", True),
        ("out", "test", True),
        ("in", "test", False),
    ]
    assert all(c["at"].endswith("+09:00") for c in body["checkins"])
    assert body["viewing"]["minutes"] == 25
    assert body["viewing"]["first_seen"] == "2023-11-15T07:13:20+09:00"


def test_organiser_session_may_read_it_too(
    client: TestClient, organiser: str, settings: Settings, event: Event
) -> None:
    """The organisers' login works like an organiser token; someone never seen has empty lists."""
    with opened(settings) as db:
        rid = register(db, event, 1)[0].registrant.id
    body = client.get(f"/api/v1/events/{event.slug}/registrants/{rid}").json()
    assert body["checkins"] == [] and body["viewing"] == {
        "minutes": 0,
        "seconds": 0,
        "first_seen": None,
        "last_seen": None,
    }


def test_a_registrant_of_another_event_is_not_found(client: TestClient, settings: Settings, event: Event) -> None:
    """The id of another event's registrant is a 404 `registrant_not_found`, as is an unused id."""
    other = seed_event(settings, replace(EVENT, slug="other"))
    with opened(settings) as db:
        foreign = register(db, other, 1)[0].registrant.id
    organiser = _bearer(settings, event, Role.ORGANISER)
    for rid in (foreign, 999_999, 0):
        response = client.get(f"/api/v1/events/{event.slug}/registrants/{rid}", headers=organiser)
        assert (response.status_code, response.json()["error"]) == (404, "registrant_not_found")


def test_kiosk_and_dashboard_tokens_may_not_read_a_registrant(
    client: TestClient, settings: Settings, event: Event
) -> None:
    """The door and the projector have no business with one person's record: 403; no credential: 401."""
    with opened(settings) as db:
        rid = register(db, event, 1)[0].registrant.id
    path = f"/api/v1/events/{event.slug}/registrants/{rid}"
    for role in (Role.KIOSK, Role.DASHBOARD):
        response = client.get(path, headers=_bearer(settings, event, role))
        assert (response.status_code, response.json()["error"]) == (403, "forbidden")
    assert client.get(path).status_code == 401

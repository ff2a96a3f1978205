"""Input no client of ours sends: answered with a 4xx and a code, never a server error."""

from __future__ import annotations

from starlette.testclient import TestClient

from checkin.models import Event, Role
from checkin.settings import Settings
from checkin.storage import opened
from tests.conftest import make_token
from tests.door_helpers import register

HUGE = 2**70


def test_json_nested_ten_thousand_deep_is_a_bad_request(client: TestClient) -> None:
    """A body nested past what the parser can follow is refused as a bad request."""
    for body in (b"[" * 10_000 + b"]" * 10_000, b'{"a":' * 10_000 + b"1" + b"}" * 10_000):
        response = client.post(
            "/api/v1/events/sympo/registrations", content=body, headers={"content-type": "application/json"}
        )
        assert (response.status_code, response.json()["error"]) == (400, "bad_request")


def test_a_registrant_id_beyond_any_row_is_not_found(
    client: TestClient, organiser: str, settings: Settings, event: Event
) -> None:
    """2**70 in an admin page or an API path is a 404, not an overflow in the database."""
    assert client.get(f"/admin/events/sympo/registrants/{HUGE}").status_code == 404
    assert client.post(f"/admin/events/sympo/registrants/{HUGE}/cancel", data={"csrf": organiser}).status_code == 404
    assert client.get(f"/admin/events/sympo/kiosks/{HUGE}/pairing").status_code == 404
    kiosk = {"authorization": f"Bearer {make_token(settings, event, Role.KIOSK)}"}
    undo = client.delete(f"/api/v1/events/sympo/checkins/{HUGE}", headers=kiosk)
    assert (undo.status_code, undo.json()["error"]) == (404, "not_checked_in")


def _seed_two(settings: Settings, event: Event) -> None:
    with opened(settings) as db:
        register(db, event, 2)


def test_a_search_for_control_characters_matches_no_one(client: TestClient, settings: Settings, event: Event) -> None:
    """`q=%00` (SQLite's LIKE would stop at the NUL and match all) finds nobody; controls inside a word are ignored."""
    _seed_two(settings, event)
    kiosk = {"authorization": f"Bearer {make_token(settings, event, Role.KIOSK)}"}
    search = "/api/v1/events/sympo/registrants"
    assert client.get(search, params={"q": "\x00"}, headers=kiosk).json()["registrants"] == []
    assert client.get(search, params={"q": "\x00\x1f\x7f"}, headers=kiosk).json()["registrants"] == []
    names = [r["email"] for r in client.get(search, params={"q": "p1@\x00"}, headers=kiosk).json()["registrants"]]
    assert names == ["p1@example.jp"]


def test_admin_search_for_control_characters_lists_no_one(
    client: TestClient, organiser: str, settings: Settings, event: Event
) -> None:
    """The organisers' list: a search of NUL alone shows no registrant, not all of them."""
    _seed_two(settings, event)
    everyone = client.get("/admin/events/sympo/registrants")
    assert "山田 0郎" in everyone.text and "山田 1郎" in everyone.text
    page = client.get("/admin/events/sympo/registrants", params={"q": "\x00"})
    assert page.status_code == 200
    assert "山田 0郎" not in page.text and "山田 1郎" not in page.text
    one = client.get("/admin/events/sympo/registrants", params={"q": "1郎\x00"})
    assert "山田 1郎" in one.text and "山田 0郎" not in one.text


def test_an_offline_answer_only_the_scan_log_knows_is_not_echoed(
    client: TestClient, settings: Settings, event: Event
) -> None:
    """A kiosk claiming it answered `duplicate` offline gets a result of the contract back, not the log's word."""
    with opened(settings) as db:
        registration = register(db, event, 1)[0]
    kiosk = {"authorization": f"Bearer {make_token(settings, event, Role.KIOSK)}"}
    assert registration.ticket is not None
    body = {"code": registration.ticket.code, "scan_id": "offline-1", "offline_decision": "duplicate"}
    answer = client.post("/api/v1/events/sympo/scans", json=body, headers=kiosk).json()
    assert answer["result"] != "duplicate" and "refused_offline" in answer["warnings"]

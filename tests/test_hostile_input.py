"""Input no client of ours sends: answered with a 4xx and a code, never a server error."""

from __future__ import annotations

from starlette.testclient import TestClient

from checkin.models import Event, Role
from checkin.settings import Settings
from tests.conftest import make_token

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

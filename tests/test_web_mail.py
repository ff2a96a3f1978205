"""Re-sending a ticket from the public page and the API: same answer for everyone, rate-limited."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from checkin.models import Event
from checkin.settings import Settings

pytestmark = pytest.mark.both_engines

PERSON = {"name": "髙橋 﨑子", "kana": "タカハシ サキコ", "email": "saki@example.jp", "mode": "venue"}


def outbox(settings: Settings) -> list[Path]:
    return sorted(settings.smtp.outbox.glob("*-resend.eml"))


def register(client: TestClient, event: Event) -> None:
    assert client.post(f"/api/v1/events/{event.slug}/registrations", json=PERSON).status_code == 201


def test_resend_page_answers_the_same_for_unknown_addresses(
    client: TestClient, event: Event, settings: Settings
) -> None:
    """A registered and an unknown address get the identical page; only the registered one gets mail."""
    register(client, event)
    url = f"/e/{event.slug}/resend"
    known = client.post(url, data={"email": "SAKI@example.jp"})
    unknown = client.post(url, data={"email": "nobody@example.jp"})
    assert known.status_code == unknown.status_code == 200
    assert known.text == unknown.text
    assert "参加証を再送しました" in known.text
    assert len(outbox(settings)) == 1


def test_resend_within_ten_minutes_sends_nothing_more(client: TestClient, event: Event, settings: Settings) -> None:
    """The second request in a row answers the same but sends no second message."""
    register(client, event)
    url = f"/e/{event.slug}/resend"
    first = client.post(url, data={"email": "saki@example.jp"})
    second = client.post(url, data={"email": "saki@example.jp"})
    assert first.text == second.text
    assert len(outbox(settings)) == 1


def test_resend_form_is_served_and_checks_the_address(client: TestClient, event: Event) -> None:
    """GET shows a labelled form; a malformed address re-renders it with an error (422)."""
    page = client.get(f"/e/{event.slug}/resend")
    assert page.status_code == 200 and '<label for="email">' in page.text
    bad = client.post(f"/e/{event.slug}/resend", data={"email": "not-an-address"})
    assert bad.status_code == 422 and 'aria-invalid="true"' in bad.text
    english = client.get(f"/e/{event.slug}/resend?lang=en")
    assert "Send my ticket" in english.text
    assert client.post("/e/nope/resend", data={"email": "a@example.jp"}).status_code == 404


def test_resend_api_is_202_for_everyone(client: TestClient, event: Event, settings: Settings) -> None:
    """The JSON twin: 202 accepted for known and unknown addresses, 422 for a malformed one."""
    register(client, event)
    url = f"/api/v1/events/{event.slug}/resend"
    for address in ("saki@example.jp", "nobody@example.jp"):
        response = client.post(url, json={"email": address})
        assert response.status_code == 202 and response.json() == {"status": "accepted"}
    assert client.post(url, json={"email": 42}).json()["error"] == "invalid"
    assert client.post(url, content=b"{", headers={"content-type": "application/json"}).status_code == 400
    assert len(outbox(settings)) == 1

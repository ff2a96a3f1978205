"""The registration endpoint: validation, duplicates, capacity under concurrency, waiting list."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import httpx
import pytest
from starlette.testclient import TestClient

from checkin.app import create_app
from checkin.models import Event
from checkin.settings import Settings
from tests.conftest import seed_event
from tests.smtp import SmtpSink
from tests.utils import EVENT, LiveServer, run_server

pytestmark = pytest.mark.both_engines

PERSON = {
    "name": "髙橋 﨑子",
    "kana": "タカハシ サキコ",
    "email": "saki@example.jp",
    "organisation": "総務省",
    "mode": "venue",
}


def test_register_returns_registrant_and_ticket(client: TestClient, event: Event) -> None:
    """A valid application is 201 with the registrant and a ticket whose URLs work."""
    response = client.post(f"/api/v1/events/{event.slug}/registrations", json=PERSON)
    assert response.status_code == 201
    body = response.json()
    assert body["registrant"]["name"] == "髙橋 﨑子"
    assert body["registrant"]["status"] == "registered"
    assert body["ticket"]["code"].startswith("CK1-")
    assert body["ticket"]["url"].endswith("/t/" + body["ticket"]["code"])


def test_duplicate_email_after_folding_is_409(client: TestClient, event: Event) -> None:
    """Full-width ＠ and upper case are the same address: 409 duplicate_email."""
    assert client.post(f"/api/v1/events/{event.slug}/registrations", json=PERSON).status_code == 201
    again = dict(PERSON, email="ＳＡＫＩ＠example.JP")
    response = client.post(f"/api/v1/events/{event.slug}/registrations", json=again)
    assert response.status_code == 409
    assert response.json()["error"] == "duplicate_email"


def test_bad_input_is_refused_with_field_errors(client: TestClient, event: Event) -> None:
    """Malformed JSON, wrong types, missing fields and unknown events never give a 500."""
    url = f"/api/v1/events/{event.slug}/registrations"
    assert client.post(url, content=b"{nope", headers={"content-type": "application/json"}).status_code == 400
    assert client.post(url, json=[1, 2]).json()["error"] == "bad_request"
    response = client.post(url, json={"name": 5, "email": "x", "mode": "car"})
    assert response.status_code == 422
    fields = response.json()["fields"]
    assert set(fields) >= {"name", "email", "mode", "kana"}
    assert client.post("/api/v1/events/nope/registrations", json=PERSON).json()["error"] == "event_not_found"
    huge = dict(PERSON, organisation="x" * 100_000)
    assert client.post(url, json=huge).status_code == 413


def test_capacity_race_gives_exactly_the_free_seats(settings: Settings) -> None:
    """70 simultaneous venue registrations for the last 50 seats: exactly 50 registered, 20 waitlisted."""
    event = seed_event(settings, replace(EVENT, capacity=50))
    with run_server(replace(settings, rate_limits=False)) as server:  # 70 people from one address
        statuses = asyncio.run(_register_many(server, event, 70))
    assert statuses.count("registered") == 50
    assert statuses.count("waitlisted") == 20


async def _register_many(server: LiveServer, event: Event, count: int) -> list[str]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:

        async def one(number: int) -> str:
            body = dict(PERSON, email=f"p{number}@example.jp")
            response = await http.post(f"/api/v1/events/{event.slug}/registrations", json=body)
            assert response.status_code == 201
            return str(response.json()["registrant"]["status"])

        return list(await asyncio.gather(*(one(n) for n in range(count))))


def test_full_venue_without_waiting_list_is_409(settings: Settings) -> None:
    """With the waiting list off, a venue application past capacity is 409 venue_full; online still fine."""
    event = seed_event(settings, replace(EVENT, capacity=1, waitlist_enabled=False))
    with run_server(settings) as server, httpx.Client(base_url=server.url) as http:
        url = f"/api/v1/events/{event.slug}/registrations"
        assert http.post(url, json=PERSON).status_code == 201
        late = http.post(url, json=dict(PERSON, email="late@example.jp"))
        assert late.status_code == 409 and late.json()["error"] == "venue_full"
        online = http.post(url, json=dict(PERSON, email="on@example.jp", mode="online"))
        assert online.status_code == 201


def test_api_registration_e_mails_the_ticket_but_not_to_the_waiting_list(settings: Settings) -> None:
    """The ticket goes out by e-mail after a 201; a waitlisted person has no ticket to send yet."""
    event = seed_event(settings, replace(EVENT, capacity=1))
    with TestClient(create_app(settings)) as client:
        url = f"/api/v1/events/{event.slug}/registrations"
        assert client.post(url, json=PERSON).status_code == 201
        assert client.post(url, json=dict(PERSON, email="late@example.jp")).json()["registrant"]["status"] == (
            "waitlisted"
        )
    outbox = list(settings.smtp.outbox.glob("*.eml"))
    assert len(outbox) == 1
    assert "saki@example.jp" in outbox[0].read_text()


def test_a_rush_of_registrations_sends_every_ticket_over_a_few_kept_connections(
    smtp_settings: Settings, smtp: SmtpSink
) -> None:
    """40 registrations at once: 40 tickets arrive, over at most two SMTP connections (servers limit them)."""
    event = seed_event(smtp_settings, replace(EVENT, capacity=100))
    with run_server(replace(smtp_settings, rate_limits=False)) as server:  # 40 people from one address
        statuses = asyncio.run(_register_many(server, event, 40))
        assert statuses.count("registered") == 40
        for _ in range(200):
            if len(smtp.received) >= 40:
                break
            time.sleep(0.05)
    assert sorted(smtp.recipients()) == sorted(f"p{n}@example.jp" for n in range(40))
    assert 1 <= len(smtp.connections) <= 2

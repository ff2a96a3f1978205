"""The admin's tokens page: create (the secret shown once), list, revoke with a confirmation."""

from __future__ import annotations

import re
import time
from dataclasses import replace

from starlette.testclient import TestClient

from checkin.models import Event, Role
from checkin.settings import Settings
from checkin.storage import opened
from checkin.storage.staff import create_token
from tests.conftest import make_token, seed_event
from tests.utils import EVENT

TOKENS = "/admin/events/sympo/tokens"


def test_created_token_is_shown_once_and_works(client: TestClient, organiser: str) -> None:
    """The response to the form shows the secret and the kiosk link; the list never shows it again."""
    created = client.post(TOKENS, data={"csrf": organiser, "role": "kiosk", "label": "受付2"})
    assert created.status_code == 201
    secret = re.search(r'<code class="secret-value">(ckt_[^<]+)</code>', created.text)
    assert secret is not None
    assert f"/kiosk#token={secret.group(1)}" in created.text
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret.group(1)}"}).json()
    assert (me["role"], me["name"], me["event"]) == ("kiosk", "受付2", "sympo")
    listing = client.get(TOKENS).text
    assert "受付2" in listing and secret.group(1) not in listing


def test_bad_token_form_is_refused_with_messages(client: TestClient, organiser: str) -> None:
    """An unknown role or an empty or overlong name re-renders the form (422) and creates nothing."""
    response = client.post(TOKENS, data={"csrf": organiser, "role": "root", "label": " "})
    assert response.status_code == 422
    assert "選択肢から選んでください" in response.text and "入力してください" in response.text
    assert client.post(TOKENS, data={"csrf": organiser, "role": "kiosk", "label": "x" * 101}).status_code == 422
    assert "トークンはまだありません" in client.get(TOKENS).text


def test_revoke_asks_first_and_then_the_token_stops(
    settings: Settings, event: Event, client: TestClient, organiser: str
) -> None:
    """GET asks; POST revokes: the dashboard token is refused at its next request."""
    secret = make_token(settings, event, Role.DASHBOARD, "projector")
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    token_id = re.search(r'/tokens/(\d+)/revoke">', client.get(TOKENS).text)
    assert token_id is not None
    url = f"{TOKENS}/{token_id.group(1)}/revoke"
    assert "トークンを無効にしますか" in client.get(url).text
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    done = client.post(url, data={"csrf": organiser})
    assert "トークンを無効にしました" in done.text and "無効（" in done.text
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    assert "token.revoke" in client.get("/admin/events/sympo/audit").text


def test_tokens_of_other_events_or_all_events_are_not_revoked_here(
    settings: Settings, client: TestClient, organiser: str
) -> None:
    """Another event's token is not found from this event's page; an all-events token is listed, not revocable."""
    other = seed_event(settings, replace(EVENT, slug="other"))
    foreign = make_token(settings, other, Role.KIOSK)
    with opened(settings) as db:
        global_token, _ = db.write_sync(create_token, None, Role.ORGANISER, "all-events", time.time())
    assert client.get(f"{TOKENS}/1/revoke").status_code == 404
    assert client.post(f"{TOKENS}/1/revoke", data={"csrf": organiser}).status_code == 404
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {foreign}"}).status_code == 200
    listing = client.get(TOKENS).text
    assert "all-events" in listing and f"/tokens/{global_token.id}/revoke" not in listing
    assert client.post(f"{TOKENS}/{global_token.id}/revoke", data={"csrf": organiser}).status_code == 404

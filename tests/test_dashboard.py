"""The dashboard's endpoints: who may open the socket, `/stats`, the report, the pages, a real server."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from checkin.app import create_app
from checkin.models import Event, Mode, Role
from checkin.settings import Settings
from checkin.storage import database_for
from checkin.storage.staff import resolve_token, revoke_token
from tests.attendance_rows import add_registrant, check_in
from tests.conftest import make_token, seed_event
from tests.utils import EVENT, LiveServer, run_server

pytestmark = pytest.mark.both_engines

SOCKET = "/ws/events/sympo/dashboard"


def revoke(settings: Settings, secret: str) -> None:
    database = database_for(settings)
    database.open()
    try:
        token = database.read_sync(resolve_token, secret)
        assert token is not None
        database.write_sync(revoke_token, token.id, time.time(), "test")
    finally:
        database.close()


def refusal(client: TestClient, url: str, **kwargs: Any) -> int:
    """The close code the socket answers with, before any snapshot."""
    with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect(url, **kwargs) as ws:
        ws.receive_text()
    return refused.value.code


def test_socket_without_a_credential_is_refused(client: TestClient) -> None:
    """No token and no login: 4401."""
    assert refusal(client, SOCKET) == 4401


def test_socket_with_a_kiosk_token_is_forbidden(client: TestClient, settings: Settings, event: Event) -> None:
    """A kiosk token is not enough to see the dashboard: 4403."""
    assert refusal(client, f"{SOCKET}?token={make_token(settings, event, Role.KIOSK)}") == 4403


def test_socket_with_a_revoked_token_is_refused(client: TestClient, settings: Settings, event: Event) -> None:
    """A revoked dashboard token no longer opens it: 4401."""
    secret = make_token(settings, event, Role.DASHBOARD)
    revoke(settings, secret)
    assert refusal(client, f"{SOCKET}?token={secret}") == 4401


def test_socket_with_another_events_token_is_forbidden(client: TestClient, settings: Settings) -> None:
    """A dashboard token bound to another event: 4403."""
    other = seed_event(settings, replace(EVENT, slug="other"))
    assert refusal(client, f"{SOCKET}?token={make_token(settings, other, Role.DASHBOARD)}") == 4403


def test_socket_of_an_unknown_event_is_refused(client: TestClient, settings: Settings, event: Event) -> None:
    """No such event: 4404."""
    token = make_token(settings, event, Role.DASHBOARD)
    assert refusal(client, f"/ws/events/nope/dashboard?token={token}") == 4404


def test_socket_from_another_site_is_forbidden(client: TestClient, settings: Settings, event: Event) -> None:
    """An Origin that is not this server's is refused (a login cookie must not work for other sites)."""
    token = make_token(settings, event, Role.DASHBOARD)
    assert refusal(client, f"{SOCKET}?token={token}", headers={"origin": "https://evil.example"}) == 4403


@pytest.mark.parametrize("role", [Role.DASHBOARD, Role.ORGANISER])
def test_socket_sends_the_snapshot_at_once(client: TestClient, settings: Settings, event: Event, role: Role) -> None:
    """A dashboard or organiser credential gets the current snapshot first."""
    with client.websocket_connect(f"{SOCKET}?token={make_token(settings, event, role)}") as ws:
        message = ws.receive_json()
    assert (message["type"], message["event"], message["venue"]["capacity"]) == ("snapshot", "sympo", 50)


def test_stats_needs_a_dashboard_or_organiser(client: TestClient, settings: Settings, event: Event) -> None:
    """/stats: 401 without a credential, 403 for a kiosk, the snapshot for a dashboard token."""
    url = "/api/v1/events/sympo/stats"
    assert client.get(url).json()["error"] == "unauthorized"
    kiosk = make_token(settings, event, Role.KIOSK)
    assert client.get(url, headers={"authorization": f"Bearer {kiosk}"}).json()["error"] == "forbidden"
    dashboard = make_token(settings, event, Role.DASHBOARD)
    response = client.get(url, headers={"authorization": f"Bearer {dashboard}"})
    assert response.status_code == 200
    assert response.json()["type"] == "snapshot"


def test_report_is_for_organisers_only(client: TestClient, settings: Settings, event: Event) -> None:
    """The report holds names: a dashboard token is refused, an organiser gets the no-show list."""
    url = "/api/v1/events/sympo/report"
    dashboard = make_token(settings, event, Role.DASHBOARD)
    assert client.get(url, headers={"authorization": f"Bearer {dashboard}"}).status_code == 403
    client.post("/api/v1/events/sympo/registrations", json=person(1))
    organiser = make_token(settings, event, Role.ORGANISER)
    body = client.get(url, headers={"authorization": f"Bearer {organiser}"}).json()
    assert [row["ref_no"] for row in body["no_shows"]] == ["W0000001"]
    assert body["snapshot"]["venue"]["registered"] == 1
    assert body["export_url"].endswith(".csv")


@pytest.mark.parametrize("path", ["/dashboard/sympo", "/dashboard/sympo/report"])
def test_pages_are_served_without_data(client: TestClient, path: str) -> None:
    """The pages are static: they hold no figures, which come with the visitor's credential."""
    response = client.get(path)
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]
    assert "connect-src 'self'" in response.headers["content-security-policy"]


def test_page_of_an_unknown_event_is_not_found(client: TestClient) -> None:
    """No page for an event that does not exist."""
    assert client.get("/dashboard/nope").json()["error"] == "event_not_found"


def person(number: int, mode: str = "venue") -> dict[str, str]:
    return {"name": f"参加 {number}", "kana": "サンカ", "email": f"p{number}@example.jp", "mode": mode}


async def next_where(ws: ClientConnection, test: Any) -> dict[str, Any]:
    """The first snapshot for which test(snapshot) holds."""
    while not test(message := json.loads(await asyncio.wait_for(ws.recv(), 15))):
        pass
    return message  # type: ignore[no-any-return]


async def test_real_socket_follows_changes(live: LiveServer, settings: Settings, event: Event) -> None:
    """Against a real server: the snapshot at once, then one that shows a new registration."""
    token = make_token(settings, event, Role.DASHBOARD)
    async with connect(f"{live.ws_url}{SOCKET}?token={token}") as ws:
        first = json.loads(await ws.recv())
        assert first["venue"]["registered"] == 0
        async with httpx.AsyncClient() as http:
            response = await http.post(f"{live.url}/api/v1/events/sympo/registrations", json=person(1))
            assert response.status_code == 201
        later = await next_where(ws, lambda s: s["venue"]["registered"] == 1)
    assert later["seq"] > first["seq"]


async def test_real_socket_refuses_a_kiosk(live: LiveServer, settings: Settings, event: Event) -> None:
    """A real client with a kiosk token is closed with 4403 before any snapshot."""
    token = make_token(settings, event, Role.KIOSK)
    async with connect(f"{live.ws_url}{SOCKET}?token={token}") as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403


async def test_a_silent_client_does_not_hold_back_another(live: LiveServer, settings: Settings, event: Event) -> None:
    """One connected dashboard that never reads; another still sees every change through."""
    token = make_token(settings, event, Role.DASHBOARD)
    url = f"{live.ws_url}{SOCKET}?token={token}"
    silent = connect(url, max_queue=1, close_timeout=0.5)
    async with silent as _silent, connect(url) as reader, httpx.AsyncClient() as http:
        for number in range(1, 21):
            await http.post(f"{live.url}/api/v1/events/sympo/registrations", json=person(number))
        await next_where(reader, lambda s: s["venue"]["registered"] == 20)


async def test_shutdown_closes_the_dashboards(settings: Settings, event: Event) -> None:
    """Stopping the server closes open dashboard sockets (1012, service restart) and ends cleanly."""
    token = make_token(settings, event, Role.DASHBOARD)
    with run_server(settings) as server:
        ws = await connect(f"{server.ws_url}{SOCKET}?token={token}")
        await ws.recv()
        server.server.should_exit = True
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 15)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code in {1001, 1012}


async def test_check_in_written_elsewhere_shows_within_a_tick(
    live: LiveServer, settings: Settings, event: Event
) -> None:
    """A change the hub was not told of (another process) still shows: the periodic tick re-reads."""
    token = make_token(settings, event, Role.ORGANISER)
    live.server.config.app.state.services.hub.tick = 0.2
    database = database_for(settings)
    database.open()
    try:
        async with connect(f"{live.ws_url}{SOCKET}?token={token}") as ws:
            await ws.recv()
            registrant = await database.write(add_registrant, event, 1, Mode.VENUE, time.time())
            await database.write(check_in, event, registrant, time.time())
            later = await next_where(ws, lambda s: s["venue"]["checked_in"] == 1)
    finally:
        database.close()
    assert later["latest_checkins"][0]["name"] == "参加 1"


def test_snapshot_interval_comes_from_the_settings(settings: Settings, event: Event) -> None:
    """CHECKIN_DASHBOARD_INTERVAL sets how often at most a snapshot is made."""
    assert Settings.from_env({"CHECKIN_DASHBOARD_INTERVAL": "0.5"}).dashboard_interval == 0.5
    with TestClient(create_app(replace(settings, dashboard_interval=0.05))) as client:
        assert client.app.state.services.hub.interval == 0.05  # type: ignore[attr-defined]


def test_a_token_revoked_while_connected_stops_the_feed(
    client: TestClient, settings: Settings, event: Event, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The credential is checked again as snapshots go out: a revoked token is closed with 4401."""
    monkeypatch.setattr("checkin.web.dashboard.RECHECK_SECONDS", 0.0)
    secret = make_token(settings, event, Role.DASHBOARD)
    with client.websocket_connect(f"{SOCKET}?token={secret}") as ws:
        ws.receive_json()
        revoke(settings, secret)
        client.post("/api/v1/events/sympo/registrations", json=person(1))
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 4401


def test_an_organisers_login_opens_the_socket_stats_and_report(client: TestClient, organiser: str) -> None:
    """With the login cookie (no token): the snapshot on the socket, /stats and the report."""
    with client.websocket_connect(SOCKET) as ws:
        assert ws.receive_json()["type"] == "snapshot"
    assert client.get("/api/v1/events/sympo/stats").json()["type"] == "snapshot"
    assert client.get("/api/v1/events/sympo/report").json()["no_shows"] == []


def test_a_login_cookie_from_another_site_is_refused(client: TestClient, organiser: str) -> None:
    """Another site's page cannot open the socket with the organiser's cookie."""
    assert refusal(client, SOCKET, headers={"origin": "https://evil.example"}) == 4403

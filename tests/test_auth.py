"""Who is calling: tokens of every role, staff session cookies, CSRF on unsafe calls, websocket origins."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket

from checkin.app import create_app
from checkin.models import Event, Role
from checkin.settings import Settings
from checkin.storage import opened
from checkin.storage.staff import revoke_token
from checkin.web.auth import authenticate, require
from tests.conftest import log_in, make_token, make_user

pytestmark = pytest.mark.both_engines


async def echo(request: Request) -> JSONResponse:
    principal = await require(request, {Role.ORGANISER})
    return JSONResponse({"actor": principal.actor})


async def ws_echo(websocket: WebSocket) -> None:
    principal = await authenticate(websocket)
    await websocket.accept()
    await websocket.send_json({"actor": None if principal is None else principal.actor})
    await websocket.close()


@pytest.fixture
def app_client(settings: Settings, event: Event) -> Iterator[TestClient]:
    """The real app plus two probe endpoints that report the caller."""
    app = create_app(settings)
    app.router.routes.append(Route("/probe", echo, methods=["GET", "POST", "DELETE"]))
    app.router.routes.append(WebSocketRoute("/probe/ws", ws_echo))
    make_user(settings)
    with TestClient(app) as client:
        yield client


def test_session_cookie_is_an_organiser(app_client: TestClient) -> None:
    """A logged-in browser is an organiser of every event (GET needs no CSRF token)."""
    log_in(app_client)
    me = app_client.get("/api/v1/me").json()
    assert me == {"role": "organiser", "name": "jimukyoku", "event": None}
    assert app_client.get("/probe").json() == {"actor": "user:jimukyoku"}


def test_unsafe_cookie_calls_need_the_csrf_token(app_client: TestClient) -> None:
    """POST/DELETE with the cookie: refused without the token, accepted with the header or form field."""
    csrf = log_in(app_client)
    refused = app_client.post("/probe", json={})
    assert refused.status_code == 403
    assert refused.json()["error"] == "csrf_failed"
    assert app_client.delete("/probe", headers={"X-CSRF-Token": "wrong"}).json()["error"] == "csrf_failed"
    assert app_client.delete("/probe", headers={"X-CSRF-Token": csrf}).status_code == 200
    assert app_client.post("/probe", data={"csrf": csrf}).status_code == 200
    assert app_client.post("/probe", data={"csrf": "x"}).status_code == 403


def test_bearer_tokens_need_no_csrf_token(settings: Settings, event: Event, app_client: TestClient) -> None:
    """A bearer token is never sent by a browser on its own, so it needs no CSRF token."""
    token = make_token(settings, event, Role.ORGANISER, "script")
    response = app_client.post("/probe", json={}, headers={"Authorization": f"Bearer {token}"})
    assert response.json() == {"actor": "token:script"}


def test_bad_or_missing_credentials_are_401(app_client: TestClient) -> None:
    """No credential, an unknown token, an overlong token or a forged cookie: 401."""
    assert app_client.get("/probe").json()["error"] == "unauthorized"
    assert app_client.get("/probe", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert app_client.get("/probe", headers={"Authorization": "Bearer " + "x" * 500}).status_code == 401
    app_client.cookies.set("checkin_session", "forged")
    assert app_client.get("/probe").status_code == 401
    app_client.cookies.set("checkin_session", "x" * 500)
    assert app_client.get("/probe").status_code == 401


@pytest.mark.parametrize("role", list(Role))
def test_revoked_token_stops_at_its_next_request(
    settings: Settings, event: Event, app_client: TestClient, role: Role
) -> None:
    """Every role's token works until revoked, and not one request after."""
    token = make_token(settings, event, role, f"{role}-1")
    headers = {"Authorization": f"Bearer {token}"}
    assert app_client.get("/api/v1/me", headers=headers).json()["role"] == role.value
    with opened(settings) as db:
        token_id = db.read_sync(lambda conn: conn.execute("SELECT id FROM api_tokens").fetchone()[0])
        db.write_sync(revoke_token, token_id, time.time(), "test")
    assert app_client.get("/api/v1/me", headers=headers).status_code == 401


def test_websocket_cookie_must_come_from_our_origin(app_client: TestClient) -> None:
    """A websocket with the staff cookie counts only from this site (no cross-site hijacking)."""
    log_in(app_client)
    with app_client.websocket_connect("/probe/ws", headers={"Origin": "http://testserver"}) as ws:
        assert ws.receive_json() == {"actor": "user:jimukyoku"}
    with app_client.websocket_connect("/probe/ws", headers={"Origin": "https://evil.example"}) as ws:
        assert ws.receive_json() == {"actor": None}


def test_organiser_undo_with_the_cookie_needs_the_header(app_client: TestClient, event: Event) -> None:
    """The door's DELETE with a staff cookie is refused without X-CSRF-Token and passes auth with it."""
    csrf = log_in(app_client)
    url = f"/api/v1/events/{event.slug}/checkins/1"
    assert app_client.delete(url).json()["error"] == "csrf_failed"
    answered = app_client.delete(url, headers={"X-CSRF-Token": csrf})
    assert answered.status_code not in {401, 403}


def test_a_form_body_on_a_json_endpoint_is_a_400_not_a_500(app_client: TestClient, event: Event) -> None:
    """After the CSRF check read a form body, the JSON endpoint still reads it (and refuses it cleanly)."""
    csrf = log_in(app_client)
    response = app_client.post(f"/api/v1/events/{event.slug}/scans", data={"csrf": csrf, "code": "x"})
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"

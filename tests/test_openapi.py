"""The OpenAPI description is kept true: it names every JSON route and only those, and schemathesis,
calling a real server with generated requests as the public, a kiosk, an organiser (token and login)
and a projector, finds no server error and no answer (status, content type, body) it does not allow."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.routing import Route
from starlette.testclient import TestClient

from checkin.app import all_routes
from checkin.models import Role
from checkin.settings import Settings, SmtpSettings
from checkin.storage import opened
from checkin.web.openapi import document
from tests.conftest import ORGANISER, make_token, make_user, seed_event
from tests.door_helpers import register
from tests.utils import EVENT, LiveServer, run_server

schema = schemathesis.openapi.from_dict(document())
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _routed() -> dict[str, set[str]]:
    """Each JSON path the app routes (convertors dropped, as OpenAPI writes them) with its methods."""
    found: dict[str, set[str]] = {}
    for route in all_routes():
        if isinstance(route, Route) and (route.path.startswith("/api/v1/") or route.path == "/healthz"):
            path = re.sub(r"{(\w+):\w+}", r"{\1}", route.path)
            found.setdefault(path, set()).update(m.lower() for m in (route.methods or {"GET"}) if m != "HEAD")
    return found


def test_every_json_route_is_described_and_every_described_path_is_routed() -> None:
    """The description and the app's routes name the same paths with the same methods."""
    described = {
        path: {m for m in item if m in {"get", "post", "put", "patch", "delete"}}
        for path, item in document()["paths"].items()
    }
    assert described == _routed()


def test_the_description_is_served_publicly(client: TestClient) -> None:
    """GET /api/v1/openapi.json needs no credential and says it is OpenAPI 3.1."""
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.json()["openapi"] == "3.1.0"
    assert "/api/v1/events/{slug}/registrants/{registrant_id}" in response.json()["paths"]


@pytest.fixture(scope="module")
def door(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, dict[str, dict[str, str]]]]:
    """A real server on an event with registrants, and the headers of each kind of caller."""
    folder: Path = tmp_path_factory.mktemp("openapi")
    config = Settings(
        db_path=folder / "checkin.db",
        sqlite_synchronous="NORMAL",
        qr_workers=0,
        rate_limits=False,
        smtp=SmtpSettings(outbox=folder / "outbox"),
    )
    event = seed_event(config, EVENT)
    with opened(config) as db:
        register(db, event, 3)
    callers = {
        "public": {},
        "kiosk": {"authorization": f"Bearer {make_token(config, event, Role.KIOSK, '受付1')}"},
        "organiser": {"authorization": f"Bearer {make_token(config, event, Role.ORGANISER)}"},
        "dashboard": {"authorization": f"Bearer {make_token(config, event, Role.DASHBOARD)}"},
    }
    make_user(config)
    with run_server(config) as live:
        callers["organiser_session"] = _session(live)
        yield live, callers
        time.sleep(0.1)  # let the last background e-mails finish before the folder goes


def _session(live: LiveServer) -> dict[str, str]:
    """An organiser's login as a browser holds it: the session cookie and the page's CSRF token."""
    with httpx.Client(base_url=live.url, follow_redirects=True) as http:
        form = http.get("/admin/login").text
        login_csrf = re.search(r'name="csrf" value="([^"]+)"', form)
        assert login_csrf is not None
        data = {"login": ORGANISER[0], "password": ORGANISER[1], "csrf": login_csrf.group(1)}
        page = http.post("/admin/login", data=data).text
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', page)
        assert csrf is not None
        return {"cookie": f"checkin_session={http.cookies['checkin_session']}", "x-csrf-token": csrf.group(1)}


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_generated_calls_get_the_answers_the_description_allows(
    case: schemathesis.Case, door: tuple[LiveServer, dict[str, dict[str, str]]]
) -> None:
    """No 5xx; each status, content type and body as described; for every kind of caller."""
    live, callers = door
    if case.path_parameters and "slug" in case.path_parameters:
        case.path_parameters["slug"] = EVENT.slug  # the real event, so the calls reach past the lookup
    for headers in callers.values():
        case.call_and_validate(base_url=live.url, headers=headers, checks=CHECKS)

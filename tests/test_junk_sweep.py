"""Every route of the app, every method it takes, fed junk as each kind of caller: never a 500.

The routes are read from the app itself, so a route added later is swept too. Path parameters get
junk values (unknown, overlong, odd characters), bodies are junk JSON, forms and bytes, and each
request goes out anonymously, as an organiser's session (with its CSRF token), with an organiser
token, and with a kiosk token.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from checkin.app import all_routes, create_app
from checkin.models import Event, Role
from checkin.settings import Settings
from tests.conftest import log_in, make_token, make_user

PARAM = re.compile(r"{(\w+)(?::\w+)?}")
JUNK_VALUES = ["sympo", "あ", "-1", "9" * 30, "x" * 300]
BODIES: list[dict[str, object]] = [
    {"content": b"{not json", "headers": {"content-type": "application/json"}},
    {"content": b'{"a": {"b": {"c": [null, true, 1e999]}}}', "headers": {"content-type": "application/json"}},
    {
        "content": b'{"scan_id": 7, "code": ["x"], "name": null, "email": 5, "mode": {}, "capacity": "many"}',
        "headers": {"content-type": "application/json"},
    },
    {"content": "\udcff".encode("utf-8", "surrogatepass"), "headers": {"content-type": "application/json"}},
    {"data": {"name": "\x00", "email": "a" * 5000, "capacity": "-1", "file": "x"}},
    {"content": b"--b\r\nbroken", "headers": {"content-type": "multipart/form-data; boundary=b"}},
]


def _paths(template: str) -> list[str]:
    """The route's path with each junk value in every parameter (the path itself when it has none)."""
    if not PARAM.search(template):
        return [template]
    return [PARAM.sub(value, template) for value in JUNK_VALUES]


def _routes() -> list[tuple[str, str]]:
    found = []
    for route in all_routes():
        if not isinstance(route, Route):
            continue
        for method in sorted(route.methods or {"GET"}):
            if method != "HEAD":
                found.append((method, route.path))
    return found


@pytest.fixture
def clients(settings: Settings, event: Event) -> Iterator[dict[str, tuple[TestClient, dict[str, str]]]]:
    """Each kind of caller: a client (with a session, or without) and the headers it sends."""
    make_user(settings)
    with (
        TestClient(create_app(settings), raise_server_exceptions=False) as anonymous,
        TestClient(create_app(settings), raise_server_exceptions=False) as session,
    ):
        csrf = log_in(session)
        yield {
            "anonymous": (anonymous, {}),
            "session": (session, {"x-csrf-token": csrf}),
            "organiser_token": (anonymous, {"authorization": f"Bearer {make_token(settings, event, Role.ORGANISER)}"}),
            "kiosk_token": (anonymous, {"authorization": f"Bearer {make_token(settings, event, Role.KIOSK)}"}),
            "forged_token": (anonymous, {"authorization": "Bearer ckt_" + "A" * 43}),
        }


def test_the_sweep_covers_the_api_the_door_and_the_admin() -> None:
    paths = {path for _method, path in _routes()}
    assert "/api/v1/events/{slug}/scans" in paths
    assert "/api/v1/events/{slug}/registrations" in paths
    assert any(path.startswith("/admin/events/{slug}") for path in paths)


def test_junk_at_every_route_gets_an_answer_not_a_server_error(
    clients: dict[str, tuple[TestClient, dict[str, str]]],
) -> None:
    failures: list[str] = []
    for method, template in _routes():
        for path in _paths(template):
            for body in BODIES if method != "GET" else [{}]:
                for who, (client, headers) in clients.items():
                    failures += _probe(client, method, path, body, f"{who}", headers)
    assert not failures, "\n".join(failures[:20])


def _probe(
    client: TestClient, method: str, path: str, body: dict[str, object], who: str, headers: dict[str, str]
) -> list[str]:
    extra = body.get("headers")
    merged = {**headers, **(extra if isinstance(extra, dict) else {})}
    kwargs = {key: value for key, value in body.items() if key != "headers"}
    response = client.request(method, path, headers=merged, **kwargs)  # type: ignore[arg-type]
    problems = []
    if response.status_code >= 500:
        problems.append(f"{who} {method} {path} {str(kwargs)[:60]} -> {response.status_code}")
    if "Traceback" in response.text:
        problems.append(f"{who} {method} {path} -> traceback in the answer")
    return problems

"""Every route of the app, every method it takes, fed junk as each kind of caller: never a 500.

The routes are read from the app itself, so a route added later is swept too. Junk goes into one
parameter at a time while the others stay valid (a real event slug, registrant, ticket code, kiosk and
token), so a junk id meets a real event and a junk body meets a real registrant: path parameters get
unknown, huge, negative, zero, NUL, float, non-UTF-8 and overlong values; bodies are broken, deeply
nested, mistyped JSON, forms and bytes; GET routes also get junk query strings. Each request goes out
anonymously, as an organiser's session (with its CSRF token), with an organiser token, a kiosk token
and a forged one.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from checkin.app import all_routes, create_app
from checkin.models import Event, Role
from checkin.settings import Settings
from checkin.storage import opened
from checkin.storage.kiosks import create_kiosk
from checkin.storage.staff import create_token
from tests.conftest import log_in, make_token, make_user
from tests.door_helpers import code_of, register

PARAM = re.compile(r"{(\w+)(?::\w+)?}")
JUNK_VALUES = [
    "0",
    "-1",
    str(2**70),
    str(2**63),
    "9" * 30,
    "1.5",
    "1e3",
    "%00",
    "%ff%fe",
    "あ",
    "x" * 3000,
    "CK1-" + "A" * 31,
]
JSON = {"content-type": "application/json"}
DEEP = b'{"a": ' * 10_000 + b"1" + b"}" * 10_000
BODIES: list[dict[str, object]] = [
    {"content": b"{not json", "headers": JSON},
    {"content": b"[" * 10_000 + b"]" * 10_000, "headers": JSON},
    {"content": DEEP, "headers": JSON},
    {"content": b'{"a": {"b": {"c": [null, true, 1e999]}}}', "headers": JSON},
    {
        "content": b'{"scan_id": 7, "code": ["x"], "name": null, "email": 5, "mode": {}, "capacity": "many"}',
        "headers": JSON,
    },
    {"content": f'{{"registrant_id": {2**70}, "scan_id": "{"9" * 40}", "direction": 1.5}}'.encode(), "headers": JSON},
    {"content": b'{"registrant_id": -1, "code": "\\u0000", "scanned_at": 1e308, "admit": "yes"}', "headers": JSON},
    {"content": b'{"registrant_id": 1.0, "code": 1.5, "queue_length": 2e70, "last_scan_at": []}', "headers": JSON},
    {"content": b'[{"code": "x"}]', "headers": JSON},
    {"content": b'"just a string"', "headers": JSON},
    {"content": b'{"name": "\xff\xfe", "email": "\xc0\xaf@x.jp"}', "headers": JSON},
    {"content": "\udcff".encode("utf-8", "surrogatepass"), "headers": JSON},
    {"data": {"name": "\x00", "email": "a" * 5000, "capacity": "-1", "file": "x", "page": str(2**70)}},
    {"content": b"--b\r\nbroken", "headers": {"content-type": "multipart/form-data; boundary=b"}},
]
QUERIES = [
    "?q=%00",
    "?q=" + "x" * 3000,
    f"?page={2**70}&since={2**70}",
    "?since=%ff&status=%00&mode=-1",
    "?q[]=a&q=1.5&page=-1",
]


def _routes() -> list[tuple[str, str]]:
    found = []
    for route in all_routes():
        if not isinstance(route, Route):
            continue
        for method in sorted(route.methods or {"GET"}):
            if method != "HEAD":
                found.append((method, route.path))
    return found


def _fill(template: str, valid: dict[str, str], junk: tuple[str, str] | None = None) -> str:
    """The route's path: every parameter valid, except the one named in `junk`."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return junk[1] if junk is not None and junk[0] == name else valid[name]

    return PARAM.sub(value, template)


def _requests(method: str, template: str, valid: dict[str, str]) -> Iterator[tuple[str, dict[str, object]]]:
    """Each request of the sweep for one route: junk in one parameter, or in the body, or in the query."""
    good_path = _fill(template, valid)
    body: dict[str, object] = {} if method == "GET" else {"content": b"{}", "headers": JSON}
    for name in PARAM.findall(template):
        for junk in JUNK_VALUES:
            yield _fill(template, valid, (name, junk)), body
    if method == "GET":
        for query in QUERIES:
            yield good_path + query, {}
    else:
        for junk_body in BODIES:
            yield good_path, junk_body


@pytest.fixture
def valid(settings: Settings, event: Event) -> dict[str, str]:
    """A real value for every path parameter: the event, a registrant and its ticket, a kiosk, a spare token."""
    with opened(settings) as db:
        registration = register(db, event, 1)[0]
        kiosk, _code = db.write_sync(create_kiosk, event.id, "受付9", time.time())
        token, _secret = db.write_sync(create_token, event.id, Role.DASHBOARD, "spare", time.time())
    return {
        "slug": event.slug,
        "registrant_id": str(registration.registrant.id),
        "code": code_of(registration),
        "kiosk_id": str(kiosk.id),
        "token_id": str(token.id),
    }


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
    """The routes come from the app: the door, registration and the admin's pages are among them."""
    paths = {path for _method, path in _routes()}
    assert "/api/v1/events/{slug}/scans" in paths
    assert "/api/v1/events/{slug}/registrations" in paths
    assert any(path.startswith("/admin/events/{slug}/registrants/{registrant_id") for path in paths)


def test_junk_in_one_parameter_at_a_time_gets_an_answer_not_a_server_error(
    clients: dict[str, tuple[TestClient, dict[str, str]]], valid: dict[str, str]
) -> None:
    """No junk value in any path parameter, body or query string, as any caller, gives a 5xx."""
    failures: list[str] = []
    for method, template in _routes():
        for path, body in _requests(method, template, valid):
            for who, (client, headers) in clients.items():
                failures += _probe(client, method, path, body, who, headers)
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
        problems.append(f"{who} {method} {path[:100]} {str(kwargs)[:60]} -> {response.status_code}")
    if "Traceback" in response.text:
        problems.append(f"{who} {method} {path[:100]} -> traceback in the answer")
    return problems

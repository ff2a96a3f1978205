"""The session cookie is Secure by itself whenever the site is reached over HTTPS."""

from __future__ import annotations

import re
from dataclasses import replace

import httpx
from starlette.testclient import TestClient

from checkin.app import create_app
from checkin.models import Event
from checkin.settings import Settings
from tests.conftest import ORGANISER, make_user
from tests.utils import run_server


def _log_in(client: httpx.Client | TestClient, headers: dict[str, str]) -> dict[str, str]:
    """Log in through the form with these headers; each cookie set on the way, by name, as sent."""
    form = client.get("/admin/login", headers=headers)
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    data = {"login": ORGANISER[0], "password": ORGANISER[1], "csrf": csrf.group(1)}
    # sent by hand: a client keeps a Secure cookie to itself over plain http
    cookie = {"cookie": f"checkin_login_csrf={csrf.group(1)}"}
    response = client.post("/admin/login", data=data, headers={**headers, **cookie}, follow_redirects=False)
    assert response.status_code == 303
    cookies = form.headers.get_list("set-cookie") + response.headers.get_list("set-cookie")
    return {value.split("=", 1)[0]: value for value in cookies if "Max-Age=0" not in value}


def test_https_through_a_trusted_proxy_makes_the_cookies_secure(settings: Settings, event: Event) -> None:
    """Behind a proxy named in CHECKIN_TRUSTED_PROXIES, X-Forwarded-Proto: https marks the cookies Secure."""
    make_user(settings)
    with run_server(replace(settings, trusted_proxies=("127.0.0.1",))) as live, httpx.Client(base_url=live.url) as http:
        over_https = _log_in(http, {"x-forwarded-proto": "https"})
        over_http = _log_in(http, {"x-forwarded-proto": "http"})
    assert "Secure" in over_https["checkin_session"] and "Secure" in over_https["checkin_login_csrf"]
    assert "Secure" not in over_http["checkin_session"]


def test_a_forwarded_proto_from_an_untrusted_peer_changes_nothing(settings: Settings, event: Event) -> None:
    """Without trusted proxies the header is ignored (uvicorn does not apply it): plain http, no Secure."""
    make_user(settings)
    with run_server(settings) as live, httpx.Client(base_url=live.url) as http:
        cookies = _log_in(http, {"x-forwarded-proto": "https"})
    assert "Secure" not in cookies["checkin_session"]


def test_an_https_base_url_makes_the_cookies_secure(settings: Settings, event: Event) -> None:
    """A site whose CHECKIN_BASE_URL is https sets Secure cookies even if a hop on the way is plain http."""
    make_user(settings)
    with TestClient(create_app(replace(settings, base_url="https://checkin.example.jp"))) as client:
        cookies = _log_in(client, {})
    assert "Secure" in cookies["checkin_session"]

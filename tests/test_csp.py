"""Content-Security-Policy: every page of every route sends the strict policy of its kind, and holds
nothing that policy would block (inline script or style, event-handler attributes, javascript: links)."""

from __future__ import annotations

import re
import time
from dataclasses import replace

import pytest
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from checkin.app import create_app
from checkin.models import Event, Role
from checkin.settings import Settings
from checkin.storage import database_for
from checkin.storage.staff import create_token
from checkin.web.security import KIOSK_POLICY, PAGE_POLICY, source_origin, watch_policy
from tests.conftest import seed_event
from tests.utils import EVENT

BLOCKED_MARKUP = {
    "inline script": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I),
    "inline style element": re.compile(r"<style\b", re.I),
    "style attribute": re.compile(r"<[^>]+\sstyle\s*=", re.I),
    "event-handler attribute": re.compile(r"<[^>]+\son[a-z]+\s*=", re.I),
    "javascript: URL": re.compile(r"javascript:", re.I),
}
UNSAFE = ("'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "'strict-dynamic'", "*", "http:", "https:")


def directives(header: str) -> dict[str, list[str]]:
    """A policy as {directive: sources}."""
    parsed: dict[str, list[str]] = {}
    for part in header.split(";"):
        name, *sources = part.split()
        assert name not in parsed, f"{name} twice"
        parsed[name] = sources
    return parsed


def assert_strict(header: str | None, where: str) -> dict[str, list[str]]:
    """The rules every page's policy keeps, whatever its kind; returns the parsed policy."""
    assert header, f"{where}: no Content-Security-Policy"
    policy = directives(header)
    assert policy["default-src"] == ["'self'"], where
    assert policy["style-src"] == ["'self'"], where
    assert policy["object-src"] == ["'none'"], where
    assert policy["base-uri"] == ["'none'"], where
    assert policy["form-action"] == ["'self'"], where
    assert policy["frame-ancestors"] == ["'none'"], where
    script = policy["script-src"]
    assert script[0] == "'self'" and set(script) <= {"'self'", "'wasm-unsafe-eval'"}, where
    for name, sources in policy.items():
        assert not set(sources) & set(UNSAFE), f"{where}: {name} {sources}"
    return policy


def assert_nothing_blocked(html: str, where: str) -> None:
    """The page holds no markup the policy refuses."""
    for what, pattern in BLOCKED_MARKUP.items():
        found = pattern.search(html)
        assert found is None, f"{where}: {what}: {found.group(0) if found else ''}"


@pytest.fixture
def ids(settings: Settings, event: Event, client: TestClient, organiser: str) -> dict[str, str]:
    """A value for every path parameter of the app's routes: an online registrant, a token, a kiosk."""
    body = {
        "name": "山田 花子",
        "kana": "ヤマダ ハナコ",
        "email": "hanako@example.jp",
        "organisation": "",
        "mode": "online",
    }
    registered = client.post(f"/api/v1/events/{event.slug}/registrations", json=body).json()
    database = database_for(settings)
    database.open()
    try:
        token = database.write_sync(create_token, event.id, Role.DASHBOARD, "projector", time.time())[0]
    finally:
        database.close()
    client.post(f"/admin/events/{event.slug}/kiosks", data={"csrf": organiser, "kiosk_name": "受付1"})
    kiosk = re.search(r"/kiosks/(\d+)/pairing", client.get(f"/admin/events/{event.slug}/kiosks").text)
    assert kiosk is not None
    return {
        "slug": event.slug,
        "code": registered["ticket"]["code"],
        "registrant_id": str(registered["registrant"]["id"]),
        "token_id": str(token.id),
        "kiosk_id": kiosk.group(1),
    }


def get_paths(client: TestClient, ids: dict[str, str]) -> list[str]:
    """Every GET route of the app with its parameters filled in (a new parameter name fails here)."""
    paths = []
    for route in client.app.routes:  # type: ignore[attr-defined]
        if isinstance(route, Route) and "GET" in (route.methods or ()):
            names = re.findall(r"{(\w+)(?::\w+)?}", route.path)
            paths.append(re.sub(r"{(\w+)(?::\w+)?}", lambda m: ids[m.group(1)], route.path))
            assert set(names) <= set(ids)
        elif isinstance(route, Mount):
            paths.append(f"{route.path}/")
    return paths


def test_every_html_route_sends_the_strict_policy_and_holds_nothing_it_blocks(
    client: TestClient, ids: dict[str, str]
) -> None:
    """Walks the app's routes (signed in, so admin pages render): each HTML page is checked."""
    seen_html = 0
    for path in get_paths(client, ids):
        response = client.get(path)
        header = response.headers.get("content-security-policy")
        assert_strict(header, path)  # JSON, images and CSV too: opened directly they are documents
        if response.headers.get("content-type", "").startswith("text/html"):
            seen_html += 1
            assert_nothing_blocked(response.text, path)
            assert response.headers["x-frame-options"] == "DENY"
    assert seen_html >= 20


@pytest.mark.parametrize(
    "path",
    [
        "/e/nowhere/",
        "/t/CK1-XXXX-AAAAAAAAAAAAAAAAAAAAAAAAAA",
        "/w/CK1-XXXX-AAAAAAAAAAAAAAAAAAAAAAAAAA",
        "/e/nowhere/watch",
        "/dashboard/nowhere",
        "/admin/events/nowhere/registrants",
        "/no/such/page",
    ],
)
def test_error_pages_send_the_policy_too(client: TestClient, organiser: str, path: str) -> None:
    """A 404 (the admin's as a signed-in organiser sees it), HTML or JSON, is sent with the same policy."""
    response = client.get(path)
    assert response.status_code >= 400
    assert_strict(response.headers.get("content-security-policy"), path)
    assert_nothing_blocked(response.text, path)


def test_forms_re_rendered_with_errors_hold_nothing_blocked(client: TestClient, event: Event, organiser: str) -> None:
    """The registration, re-send and login forms shown again with messages."""
    pages = [
        client.post(f"/e/{event.slug}/", data={"name": "", "email": "nope"}),
        client.post(f"/e/{event.slug}/resend", data={"email": "nope"}),
        client.post(f"/admin/events/{event.slug}/settings", data={"csrf": organiser, "capacity": "-1"}),
    ]
    for response in pages:
        assert response.status_code in {409, 422}
        assert_strict(response.headers.get("content-security-policy"), str(response.url))
        assert_nothing_blocked(response.text, str(response.url))


def test_kiosk_app_and_its_workers_get_the_kiosk_policy(client: TestClient) -> None:
    """The page, its QR worker and its service worker: wasm may compile there, nothing else unsafe."""
    for path in ["/kiosk/", "/kiosk/qrworker.js", "/kiosk/sw.js"]:
        response = client.get(path)
        assert response.status_code == 200
        assert response.headers["content-security-policy"] == KIOSK_POLICY
        policy = assert_strict(KIOSK_POLICY, path)
        assert policy["script-src"] == ["'self'", "'wasm-unsafe-eval'"]
        assert policy["worker-src"] == ["'self'", "blob:"]
    assert_nothing_blocked(client.get("/kiosk/").text, "/kiosk/")
    assert client.get("/kiosk", follow_redirects=False).headers["content-security-policy"] == KIOSK_POLICY


def test_only_the_kiosk_may_compile_webassembly(client: TestClient, event: Event) -> None:
    """The dashboard, its report and every other page get the base policy, with no wasm and no blob:."""
    for path in [f"/dashboard/{event.slug}", f"/dashboard/{event.slug}/report", f"/e/{event.slug}/", "/kioskx"]:
        header = client.get(path).headers["content-security-policy"]
        assert header == PAGE_POLICY, path
        assert "wasm" not in header and "blob:" not in header


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://cdn.example.jp/live/index.m3u8", "https://cdn.example.jp"),
        ("http://127.0.0.1:8081/hls/index.m3u8?token=a;b", "http://127.0.0.1:8081"),
        ("https://CDN.Example.JP:443/x.mp4", "https://cdn.example.jp:443"),
        ("https://配信.example.jp/x.m3u8", "https://xn--vuqv80n.example.jp"),
        ("https://www.youtube.com/embed/abcdefghijk", "https://www.youtube.com"),
    ],
)
def test_source_origin_of_stream_addresses(url: str, origin: str) -> None:
    """The scheme, host (IDN as punycode) and port: a path or query never reaches the policy."""
    assert source_origin(url) == origin


@pytest.mark.parametrize(
    "url",
    [
        "",
        "/static/stream.m3u8",
        "ftp://example.jp/x.m3u8",
        "javascript:alert(1)",
        "data:video/mp4;base64,AAAA",
        "https://evil.example;script-src */x.m3u8",
        "https://evil.example' 'unsafe-inline/x.m3u8",
        "https://a b.example/x.m3u8",
        "https://[::1]:8080/x.m3u8",
        "https://example.jp:99999/x.m3u8",
        "https://user:pw@-bad-.example/x.m3u8",
    ],
)
def test_source_origin_refuses_what_could_bend_the_policy(url: str) -> None:
    """Relative, non-web and malformed addresses give no source (the stream then can't play, nothing else)."""
    assert source_origin(url) is None


def test_watch_policy_allows_only_the_stream_origin_for_its_kind() -> None:
    """HLS: fetch, media (and blob: for hls.js); a file: media; an embed: a frame; none: the base policy."""
    hls = directives(watch_policy("hls", "https://cdn.example.jp/live.m3u8"))
    assert hls["connect-src"] == ["'self'", "https://cdn.example.jp"]
    assert hls["media-src"] == ["'self'", "https://cdn.example.jp", "blob:"]
    assert hls["worker-src"] == ["'self'", "blob:"]
    assert "frame-src" not in hls
    video = directives(watch_policy("video", "https://cdn.example.jp/clip.mp4"))
    assert video["media-src"] == ["'self'", "https://cdn.example.jp"] and video["connect-src"] == ["'self'"]
    embed = directives(watch_policy("embed", "https://www.youtube.com/embed/abcdefghijk"))
    assert embed["frame-src"] == ["'self'", "https://www.youtube.com"] and "media-src" not in embed
    assert watch_policy("none", "") == PAGE_POLICY
    assert directives(watch_policy("hls", "/live/index.m3u8"))["media-src"] == ["'self'", "blob:"]
    for kind in ["hls", "video", "embed"]:
        assert_strict(watch_policy(kind, "https://cdn.example.jp/x"), kind)


@pytest.mark.parametrize(
    ("stream_url", "directive", "source"),
    [
        ("https://cdn.example.jp/live/index.m3u8", "media-src", "https://cdn.example.jp"),
        ("https://media.example.jp/clip.webm", "media-src", "https://media.example.jp"),
        ("https://www.youtube.com/watch?v=abcdefghijk", "frame-src", "https://www.youtube.com"),
        ("https://youtu.be/abcdefghijk", "frame-src", "https://www.youtube.com"),
    ],
)
def test_watch_pages_name_the_events_stream_origin(
    settings: Settings, stream_url: str, directive: str, source: str
) -> None:
    """The anonymous watch page (the personal one shares its code) sends its event's stream policy."""
    event = seed_event(settings, replace(EVENT, slug="live", stream_url=stream_url))
    with TestClient(create_app(settings)) as client:
        response = client.get(f"/e/{event.slug}/watch")
        assert response.status_code == 200
        policy = assert_strict(response.headers.get("content-security-policy"), stream_url)
        assert source in policy[directive]
        assert_nothing_blocked(response.text, stream_url)

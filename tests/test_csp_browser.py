"""Every kind of page, used in headless Chromium under its Content-Security-Policy, breaks none of it.

Violations are caught three ways: a `securitypolicyviolation` listener in every page, Chromium's console,
and the reports the policy's report-uri sends to the server (those also come from workers). Each test
ends with a deliberate violation, a blocked image, and waits for its report, so the watch is shown to
work and the reports sent before it have arrived.
"""

from __future__ import annotations

import functools
import http.server
import logging
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, expect

from checkin.models import Event, Mode, Role
from checkin.registration import Application
from checkin.settings import Settings
from checkin.storage import database_for
from checkin.storage.kiosks import create_kiosk
from checkin.storage.registrants import register
from tests.browser import chromium
from tests.conftest import ORGANISER, make_token, make_user, seed_event
from tests.utils import EVENT, LiveServer, run_server

pytestmark = pytest.mark.browser

PERSON = Application("山田 花子", "ヤマダ ハナコ", "hanako@example.jp", "", Mode.VENUE)
T = TypeVar("T")
# The smallest WebAssembly module (magic and version): compiling it needs 'wasm-unsafe-eval'.
COMPILE_WASM = """() => WebAssembly.compile(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]))
  .then(() => "compiled", (error) => error.name)"""
PROBE = "http://csp-probe.invalid"
LISTENER = """document.addEventListener("securitypolicyviolation", (e) => window.cspViolation({
  directive: e.effectiveDirective, blocked: e.blockedURI, source: e.sourceFile, line: e.lineNumber }));"""
# Browsers without HLS of their own (Firefox, older Chromium) play through hls.js: this makes Chromium one.
NO_NATIVE_HLS = """{ const own = HTMLMediaElement.prototype.canPlayType;
  HTMLMediaElement.prototype.canPlayType = function (type) {
    return /mpegurl/i.test(type) ? "" : own.call(this, type); }; }"""


@dataclass
class CspWatch:
    """What the pages of one browser context and the server reported."""

    caplog: pytest.LogCaptureFixture
    events: list[dict[str, Any]] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    def attach(self, context: BrowserContext) -> None:
        context.expose_function("cspViolation", self._event)
        context.add_init_script(LISTENER)
        context.on("console", self._console)

    def _event(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    def _console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text and PROBE not in message.text:
            self.console.append(message.text)

    def reports(self) -> list[str]:
        return [r.getMessage() for r in self.caplog.records if r.name == "checkin.csp"]

    def _probe_seen(self) -> bool:
        reported = any(PROBE in line for line in self.reports())
        return reported and any(e["blocked"].startswith(PROBE) for e in self.events)

    def assert_clean(self, page: Page) -> None:
        """Provoke one violation, wait for its report, then: nothing else was reported anywhere."""
        page.evaluate("url => { new Image().src = url + '/probe.png'; }", PROBE)
        deadline = time.monotonic() + 15
        while not self._probe_seen() and time.monotonic() < deadline:
            page.wait_for_timeout(50)  # not time.sleep: Playwright delivers the page's events while it waits
        assert any(PROBE in line for line in self.reports()), "the probe's report never arrived"
        assert any(e["blocked"].startswith(PROBE) for e in self.events), "the probe's event never fired"
        assert [e for e in self.events if not e["blocked"].startswith(PROBE)] == []
        assert [line for line in self.reports() if PROBE not in line] == []
        assert self.console == []


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    args = ["--autoplay-policy=no-user-gesture-required", "--use-fake-ui-for-media-stream"]
    with chromium([*args, "--use-fake-device-for-media-stream"]) as browser:
        yield browser


@pytest.fixture
def watch(caplog: pytest.LogCaptureFixture) -> CspWatch:
    caplog.set_level(logging.WARNING, "checkin.csp")
    return CspWatch(caplog)


@pytest.fixture
def context(browser: Browser, watch: CspWatch) -> Iterator[BrowserContext]:
    fresh = browser.new_context(locale="ja-JP", viewport={"width": 1280, "height": 900})
    watch.attach(fresh)
    yield fresh
    fresh.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def storage_call(settings: Settings, fn: Callable[..., T], *args: Any) -> T:
    """One write straight to the database, as a command would (no e-mail follows)."""
    database = database_for(settings)
    database.open()
    try:
        return database.write_sync(fn, *args)
    finally:
        database.close()


def log_in(page: Page, live: LiveServer) -> None:
    """Through the login form, as the organiser."""
    page.goto(f"{live.url}/admin/login")
    page.fill("#f-login", ORGANISER[0])
    page.fill("#f-password", ORGANISER[1])
    page.press("#f-password", "Enter")
    page.wait_for_url(f"{live.url}/admin")


def test_registration_ticket_and_its_pages(live: LiveServer, page: Page, watch: CspWatch) -> None:
    """A failed and a good registration, the ticket with its QR image, watch link, cancel and re-send pages."""
    page.goto(f"{live.url}/e/sympo/")
    page.get_by_role("button", name="申し込む").click()
    expect(page.locator("#error-summary")).to_be_focused()
    page.fill("#f-name", "山田 花子")
    page.fill("#f-kana", "ヤマダ ハナコ")
    page.fill("#f-email", "hanako@example.jp")
    page.check("input[name=mode][value=online]")
    page.check("#f-consent")
    page.get_by_role("button", name="申し込む").click()
    page.wait_for_url("**/t/CK1-*")
    assert page.evaluate("document.querySelector('.qr img').decode().then(() => true)")
    page.locator("a[href^='/w/']").click()
    page.wait_for_selector('.presence[data-state="connected"]')
    page.go_back()
    page.locator("a[href$='/cancel']").click()
    expect(page.locator("form button")).to_be_visible()
    page.goto(f"{live.url}/e/sympo/resend?lang=en")
    page.locator("#email").fill("nobody")
    page.locator("form.resend button").click()
    expect(page.locator("#email-error")).to_be_visible()
    watch.assert_clean(page)


def test_admin_pages_and_their_confirmations(
    settings: Settings, event: Event, live: LiveServer, page: Page, watch: CspWatch
) -> None:
    """Log in, walk every tab, create a kiosk (its inline QR), confirm a re-issue, log out."""
    make_user(settings)
    log_in(page, live)
    registrant_id = storage_call(settings, register, event, PERSON, time.time()).registrant.id
    for tab in ["", "registrants", f"registrants/{registrant_id}", "tokens", "files", "audit", "settings"]:
        page.goto(f"{live.url}/admin/events/sympo/{tab}")
        expect(page.locator("main h1, main .crumbs").first).to_be_visible()
    page.goto(f"{live.url}/admin/events/sympo/kiosks")
    page.locator("input[name=kiosk_name]").fill("受付1")
    page.locator("input[name=kiosk_name]").press("Enter")
    assert page.evaluate("document.querySelector('img.qr').decode().then(() => true)")
    page.goto(f"{live.url}/admin/events/sympo/registrants/{registrant_id}/reissue")
    page.locator("button.danger").click()
    page.wait_for_url("**done=**")
    page.goto(f"{live.url}/admin/events/new")
    page.get_by_role("button", name="ログアウト").click()
    page.wait_for_url("**/admin/login**")
    watch.assert_clean(page)


def test_kiosk_pairing_screen_then_the_camera_and_its_worker(
    settings: Settings, event: Event, live: LiveServer, page: Page, watch: CspWatch
) -> None:
    """A wrong code, the right one; then the fake camera feeds the QR worker and the service worker starts."""
    _, pairing_code = storage_call(settings, create_kiosk, event.id, "受付1", time.time())
    page.goto(f"{live.url}/kiosk")
    page.fill("#pairing input[name=code]", "WRONGCOD")
    page.click("#pairing button[type=submit]")
    expect(page.locator("#pairing [data-pair-message]")).to_be_visible()
    with page.expect_worker() as worker:
        page.fill("#pairing input[name=code]", pairing_code)
        page.click("#pairing button[type=submit]")
        page.wait_for_selector("#kiosk [data-kiosk-name]:has-text('受付1')")
    assert worker.value.url.endswith("/kiosk/qrworker.js")
    assert worker.value.evaluate(COMPILE_WASM) == "compiled"  # the worker's own response allows a wasm decoder
    assert page.evaluate(COMPILE_WASM) == "compiled"
    page.wait_for_function("() => navigator.serviceWorker.ready.then(() => true)")
    page.click("[data-open-search]")
    page.fill("#search input[name=q]", "山田")
    watch.assert_clean(page)


def test_dashboard_projector_and_report(
    settings: Settings, event: Event, live: LiveServer, page: Page, watch: CspWatch
) -> None:
    """The dashboard with its charts over the socket, the projector view, then the report as an organiser."""
    token = make_token(settings, event, Role.DASHBOARD)
    page.goto(f"{live.url}/dashboard/sympo#token={token}")
    page.wait_for_selector("#chart-arrivals canvas", state="attached")  # drawn, and hidden until a first arrival
    expect(page.locator("#chart-arrivals-empty")).to_be_visible()
    page.click("#lang")
    page.click("#projector")  # the projector has no buttons: the language first
    make_user(settings)
    log_in(page, live)
    page.goto(f"{live.url}/dashboard/sympo/report")
    expect(page.locator("#csv")).to_be_visible()
    page.wait_for_selector("#chart-online canvas", state="attached")
    watch.assert_clean(page)
    assert page.evaluate(COMPILE_WASM) == "CompileError"  # only the kiosk may compile WebAssembly


class _StreamHandler(http.server.SimpleHTTPRequestHandler):
    """A stream host as CDNs are: any page may fetch (hls.js fetches; the browser's own HLS does not)."""

    def end_headers(self) -> None:
        self.send_header("Access-Control-Allow-Origin", "*")
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture(scope="module")
def stream_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second server (another origin) with a 6-second H.264 HLS stream and a WebM clip made by ffmpeg,
    and an embeddable player page; its base URL."""
    folder: Path = tmp_path_factory.mktemp("stream")
    ffmpeg = ["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-t", "6"]
    hls = ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "10", "-f", "hls", "-hls_time", "1"]
    subprocess.run([*ffmpeg, *hls, "-hls_playlist_type", "vod", str(folder / "index.m3u8")], check=True)
    subprocess.run([*ffmpeg, "-c:v", "libvpx", str(folder / "clip.webm")], check=True)
    (folder / "player.html").write_text("<!doctype html><title>player</title><p>embedded player</p>")
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_StreamHandler, directory=folder))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def open_watch_page(settings: Settings, server: LiveServer, page: Page, stream_url: str, directive: str) -> None:
    """The anonymous watch page of an event streaming `stream_url`, whose policy names its origin."""
    event = seed_event(settings, replace(EVENT, slug=f"live-{directive}", stream_url=stream_url))
    response = page.goto(f"{server.url}/e/{event.slug}/watch")
    assert response is not None
    policy = response.headers["content-security-policy"]
    assert f"{directive} 'self' {stream_url.rsplit('/', 1)[0]}" in policy


@pytest.mark.parametrize(
    ("player", "path"), [("browser", "index.m3u8"), ("hls.js", "index.m3u8"), ("video", "clip.webm")]
)
def test_a_stream_from_another_origin_plays_under_the_watch_policy(
    settings: Settings, stream_host: str, context: BrowserContext, watch: CspWatch, player: str, path: str
) -> None:
    """HLS (the browser's own, and hls.js with its blob: media and worker) and a video file: time advances."""
    with run_server(settings) as server:
        page = context.new_page()
        if player == "hls.js":
            page.add_init_script(NO_NATIVE_HLS)
        open_watch_page(settings, server, page, f"{stream_host}/{path}", "media-src")
        page.evaluate("() => { const v = document.querySelector('video'); v.muted = true; return v.play(); }")
        # A function, not a string: Playwright evaluates a string predicate with eval, which the policy refuses.
        page.wait_for_function("() => document.querySelector('video').currentTime > 1.5", timeout=20_000)
        used_hls_js = page.evaluate("document.querySelector('video').src.startsWith('blob:') && !!window.Hls")
        assert used_hls_js == (player == "hls.js")
        watch.assert_clean(page)


def test_an_embed_from_another_origin_loads_under_the_watch_policy(
    settings: Settings, stream_host: str, context: BrowserContext, watch: CspWatch
) -> None:
    """An embedded player (YouTube's place) loads in its frame: frame-src names its origin alone."""
    with run_server(settings) as server:
        page = context.new_page()
        open_watch_page(settings, server, page, f"{stream_host}/player.html", "frame-src")
        expect(page.frame_locator("iframe").locator("p")).to_have_text("embedded player")
        watch.assert_clean(page)

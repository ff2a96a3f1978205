"""The watch page in headless Chromium: a playing video counts, a paused one stops counting."""

from __future__ import annotations

import functools
import http.server
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from playwright.sync_api import Browser, Page

from checkin.models import Event
from checkin.settings import Settings
from checkin.storage import database_for
from checkin.storage.events import update_event
from checkin.storage.viewing import OnlineFigures, online_figures
from tests.browser import chromium
from tests.test_watch import seed_viewers
from tests.utils import run_server

pytestmark = pytest.mark.browser

FFMPEG_TESTSRC = [
    "ffmpeg",
    *("-loglevel", "error"),
    *("-f", "lavfi", "-i", "testsrc=size=160x120:rate=10"),
    *("-t", "3", "-c:v", "libvpx"),
]


@pytest.fixture(scope="module")
def video_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A 3-second VP8 test pattern made by ffmpeg, served over HTTP from a temporary folder."""
    folder = tmp_path_factory.mktemp("stream")
    subprocess.run(
        [*FFMPEG_TESTSRC, str(folder / "clip.webm")],
        check=True,
    )
    (folder / "player.html").write_text("<!doctype html><title>player</title><p>embedded player</p>")
    handler = functools.partial(_QuietHandler, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/clip.webm"
    finally:
        httpd.shutdown()
        httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium(["--autoplay-policy=no-user-gesture-required"]) as browser:
        yield browser


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()


def set_stream(settings: Settings, event: Event, url: str) -> None:
    database = database_for(settings)
    database.open()
    try:
        database.write_sync(update_event, event.slug, {"stream_url": url}, "test", time.time())
    finally:
        database.close()


def wait_for(settings: Settings, event: Event, check: Callable[[OnlineFigures], bool]) -> OnlineFigures:
    """The event's figures once `check` holds, polled for a while."""
    database = database_for(settings)
    try:
        deadline = time.monotonic() + 15
        while True:
            result = database.read_sync(online_figures, event.id, time.time())
            if check(result) or time.monotonic() > deadline:
                return result
            time.sleep(0.05)
    finally:
        database.close()


def test_playing_video_counts_and_paused_does_not(settings: Settings, event: Event, video_url: str, page: Page) -> None:
    """Play → the registrant counts in `now`; pause → after the grace period, no longer."""
    fast = replace(settings, watch_grace=1.0)
    code = seed_viewers(fast, event, 1).codes[0]
    set_stream(fast, event, video_url)
    with run_server(fast) as server:
        page.goto(f"{server.url}/w/{code}")
        page.wait_for_selector('.presence[data-state="connected"]')
        assert wait_for(fast, event, lambda f: True).unique == 0  # connected, not yet playing: not counted
        page.evaluate(
            "() => { const v = document.querySelector('video'); v.loop = true; v.muted = true; return v.play(); }"
        )
        assert wait_for(fast, event, lambda f: f.now == 1).now == 1
        page.evaluate("() => document.querySelector('video').pause()")
        result = wait_for(fast, event, lambda f: f.now == 0)
        assert (result.now, result.peak, result.unique) == (0, 1, 1)


def test_anonymous_embed_counts_while_visible_and_a_reload_is_one_viewing(
    settings: Settings, event: Event, video_url: str, page: Page
) -> None:
    """An embed counts while the page is visible; the browser id in localStorage makes a reload the same viewer."""
    fast = replace(settings, watch_grace=3.0)
    set_stream(fast, event, video_url.replace("clip.webm", "player.html"))
    with run_server(fast) as server:
        page.goto(f"{server.url}/e/{event.slug}/watch")
        assert page.locator("iframe").count() == 1
        assert wait_for(fast, event, lambda f: f.now == 1).unique_anonymous == 1
        page.reload()
        page.wait_for_selector('.presence[data-state="connected"]')
        result = wait_for(fast, event, lambda f: f.now == 1)
        assert (result.now, result.unique, result.unique_anonymous) == (1, 1, 1)

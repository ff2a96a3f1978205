"""The live pages in headless Chromium come back after a server restart (close code 1012) by themselves."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from checkin.models import Event, Role
from checkin.settings import Settings
from tests.browser import chromium
from tests.conftest import make_token
from tests.test_dashboard_browser import CHECKED_IN, register_and_scan
from tests.utils import free_port, run_server

pytestmark = pytest.mark.browser
# Long enough for the jittered backoff to reach the new server on a busy machine; never a pass mark.
PATIENCE_MS = 90_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


def test_dashboard_and_watch_page_reconnect_to_the_server_that_answers_after_a_restart(
    browser: Browser, page: Page, settings: Settings, event: Event
) -> None:
    """Stopped, the server closes both sockets with 1012; a new server on the same address gets both back."""
    dashboard = make_token(settings, event, Role.DASHBOARD)
    kiosk = make_token(settings, event, Role.KIOSK, name="受付1")
    viewer = browser.new_page()
    port = free_port()
    with run_server(settings, port) as server:
        page.goto(f"{server.url}/dashboard/sympo#token={dashboard}")
        viewer.goto(f"{server.url}/e/{event.slug}/watch")
        expect(page.locator(CHECKED_IN)).to_have_text("0")
        expect(viewer.locator(".presence")).to_have_attribute("data-state", "connected")
    expect(page.locator("body")).to_have_class("stale")
    expect(viewer.locator(".presence")).to_have_attribute("data-state", "reconnecting")
    with run_server(settings, port) as server:
        assert register_and_scan(server.url, kiosk)["result"] == "ok"
        expect(page.locator(CHECKED_IN)).to_have_text("1", timeout=PATIENCE_MS)
        expect(page.locator("body")).not_to_have_class("stale")
        expect(viewer.locator(".presence")).to_have_attribute("data-state", "connected", timeout=PATIENCE_MS)
    viewer.close()

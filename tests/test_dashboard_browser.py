"""The dashboard page in headless Chromium: a scan at the door changes its figures; a lost server greys them;
after a restart (close code 1012) it and the watch page come back by themselves."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from checkin.models import Event, Role
from checkin.settings import Settings
from checkin.storage import opened
from checkin.storage.events import update_event
from tests.browser import chromium
from tests.conftest import make_token
from tests.utils import LiveServer, free_port, run_server

pytestmark = pytest.mark.browser
CHECKED_IN = '[data-field="venue.checked_in"]'


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


def register_and_scan(url: str, kiosk_token: str) -> dict[str, object]:
    """Register one venue person, then scan their ticket at a kiosk; the scan's answer."""
    person = {"name": "来場 花子", "kana": "ライジョウ ハナコ", "email": "hanako@example.jp", "mode": "venue"}
    with httpx.Client(base_url=url) as http:
        code = http.post("/api/v1/events/sympo/registrations", json=person).json()["ticket"]["code"]
        answer = http.post(
            "/api/v1/events/sympo/scans",
            json={"code": code, "scan_id": str(uuid.uuid4())},
            headers={"authorization": f"Bearer {kiosk_token}"},
        )
    return dict(answer.json())


def test_a_scan_changes_the_figures(page: Page, live: LiveServer, settings: Settings, event: Event) -> None:
    """Opened with #token= (then removed from the address), the page shows a door scan within moments."""
    dashboard = make_token(settings, event, Role.DASHBOARD)
    kiosk = make_token(settings, event, Role.KIOSK, name="受付1")
    page.goto(f"{live.url}/dashboard/sympo#token={dashboard}")
    expect(page.locator(CHECKED_IN)).to_have_text("0")
    assert "token" not in page.url
    assert register_and_scan(live.url, kiosk)["result"] == "ok"
    expect(page.locator(CHECKED_IN)).to_have_text("1")
    # a projector of an event that keeps names off: the time and the kiosk, empty cells for who
    expect(page.locator("#latest")).to_contain_text("受付1")
    expect(page.locator("#latest")).not_to_contain_text("来場 花子")
    expect(page.locator("#latest")).not_to_contain_text("undefined")
    expect(page.locator("#kiosks")).to_contain_text("受付1")
    expect(page.locator("#banner")).to_be_hidden()


def test_the_hall_tile_shows_in_hall_against_the_hall_capacity(
    page: Page, live: LiveServer, settings: Settings, event: Event
) -> None:
    """在場者数 / 会場定員 on the in-hall tile; 来場者数 against 申込定員, each capacity its own."""
    with opened(settings) as db:
        db.write_sync(update_event, event.slug, {"hall_capacity": 80}, "test", time.time())
    page.goto(f"{live.url}/dashboard/sympo#token={make_token(settings, event, Role.DASHBOARD)}")
    expect(page.locator('[data-figure="venue.in_hall"]')).to_contain_text("在場者数0 / 会場定員 80")
    expect(page.locator('[data-figure="venue.checked_in"]')).to_contain_text("申込定員 50")


def test_figures_are_marked_stale_when_the_server_goes(page: Page, settings: Settings, event: Event) -> None:
    """When the connection is lost the figures grey out under a banner that gives their time."""
    dashboard = make_token(settings, event, Role.DASHBOARD)
    with run_server(settings) as server:
        page.goto(f"{server.url}/dashboard/sympo?lang=en#token={dashboard}")
        expect(page.locator(CHECKED_IN)).to_have_text("0")
        expect(page.locator("body")).not_to_have_class("stale")
    expect(page.locator("body")).to_have_class("stale")
    expect(page.locator("#banner")).to_contain_text("Disconnected")


def test_a_kiosk_token_is_told_it_may_not_look(page: Page, live: LiveServer, settings: Settings, event: Event) -> None:
    """A kiosk token gets a plain refusal and a way to log in, and no figures."""
    kiosk = make_token(settings, event, Role.KIOSK)
    page.goto(f"{live.url}/dashboard/sympo#token={kiosk}")
    expect(page.locator("#banner")).to_contain_text("ログイン")
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator(CHECKED_IN)).to_have_text("–")


# Long enough for the jittered backoff to reach the new server on a busy machine; never a pass mark.
PATIENCE_MS = 90_000


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

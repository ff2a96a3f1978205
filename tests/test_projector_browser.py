"""The projector and the charts in headless Chromium: one 1920×1080 screen with the event's title and date,
nothing to press, and chart ticks that read Tokyo time whatever the browser's own zone."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from checkin.models import Event, Role
from checkin.settings import Settings
from checkin.stats import ARRIVAL_STEP, bucket
from checkin.storage import opened
from checkin.storage.viewing import start_viewing
from tests.browser import chromium
from tests.conftest import make_token
from tests.door_helpers import code_of, register, scan_id
from tests.utils import LiveServer

pytestmark = pytest.mark.browser
TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


def open_page(browser: Browser, url: str, width: int = 1280, height: int = 900) -> Page:
    """A page in a browser whose own zone is New York, not the event's."""
    context = browser.new_context(viewport={"width": width, "height": height}, timezone_id="America/New_York")
    page = context.new_page()
    page.goto(url)
    return page


def check_in(live: LiveServer, settings: Settings, event: Event, count: int) -> None:
    """Register `count` venue people and scan each at one kiosk, now."""
    kiosk = {"authorization": f"Bearer {make_token(settings, event, Role.KIOSK, '受付1')}"}
    with opened(settings) as db:
        people = register(db, event, count)
    with httpx.Client(base_url=live.url, headers=kiosk) as http:
        for person in people:
            body = {"code": code_of(person), "scan_id": scan_id()}
            assert http.post("/api/v1/events/sympo/scans", json=body).json()["result"] == "ok"


def ticks(page: Page, chart: str) -> list[str]:
    locator = page.locator(f"#{chart}")
    expect(locator).to_be_visible()
    return str(locator.get_attribute("data-ticks")).split()


def tokyo_minute(moment: float) -> str:
    return datetime.fromtimestamp(moment, TOKYO).strftime("%H:%M")


def test_the_projector_fits_one_screen_with_title_and_date_and_no_buttons(
    browser: Browser, live: LiveServer, settings: Settings, event: Event
) -> None:
    """At 1920×1080: the event's title and date head the screen, every part ends above the bottom edge
    (with rows of the latest check-ins in view), and there is no button to press."""
    check_in(live, settings, event, 12)
    token = make_token(settings, event, Role.DASHBOARD)
    page = open_page(browser, f"{live.url}/dashboard/sympo?projector=1#token={token}", 1920, 1080)
    expect(page.locator('[data-field="venue.checked_in"]')).to_have_text("12")
    header = page.locator("header.bar h1")
    expect(header).to_contain_text("テストシンポジウム")
    expect(header).to_contain_text("2023年11月27日")
    expect(header).to_contain_text("13:30–16:30")
    expect(header).not_to_contain_text("sympo")
    assert page.locator("button:visible").count() == 0
    sizes = page.evaluate(
        """() => ({
          height: innerHeight, width: innerWidth,
          scrollHeight: document.documentElement.scrollHeight, scrollWidth: document.documentElement.scrollWidth,
          bottoms: [...document.querySelectorAll(".figure, .charts figure, .tables h2")]
            .map((e) => e.getBoundingClientRect().bottom),
          rows: [...document.querySelectorAll("#latest tr")]
            .filter((r) => r.getBoundingClientRect().bottom <= innerHeight).length,
        })"""
    )
    assert sizes["scrollHeight"] <= sizes["height"] and sizes["scrollWidth"] <= sizes["width"]
    assert sizes["bottoms"] and max(sizes["bottoms"]) <= sizes["height"]
    assert sizes["rows"] >= 5
    # the event keeps names off the projector: no reference-number or name column at all
    expect(page.locator("table.latest th.name")).to_be_hidden()
    page.context.close()


def test_one_arrival_bucket_reads_its_own_tokyo_time_not_midnight(
    browser: Browser, live: LiveServer, settings: Settings, event: Event
) -> None:
    """A single 5-minute bucket: the ticks are distinct whole minutes around it, in Tokyo time, from a
    browser in New York."""
    check_in(live, settings, event, 1)
    token = make_token(settings, event, Role.DASHBOARD)
    page = open_page(browser, f"{live.url}/dashboard/sympo#token={token}")
    expect(page.locator('[data-field="venue.checked_in"]')).to_have_text("1")
    labels = ticks(page, "chart-arrivals")
    assert len(labels) == len(set(labels)) > 1
    assert tokyo_minute(bucket(time.time(), ARRIVAL_STEP)) in labels
    page.context.close()


def test_a_short_online_series_never_repeats_a_tick(
    browser: Browser, live: LiveServer, settings: Settings, event: Event
) -> None:
    """Three minutes of one viewer: every tick a different minute, all of them Tokyo time."""
    started = time.time() - 180
    with opened(settings) as db:
        db.write_sync(start_viewing, event.id, "anon-viewer-1", None, started)
    token = make_token(settings, event, Role.DASHBOARD)
    page = open_page(browser, f"{live.url}/dashboard/sympo#token={token}")
    expect(page.locator('[data-field="online.unique"]')).to_have_text("1")
    labels = ticks(page, "chart-online")
    assert len(labels) == len(set(labels)) > 1
    assert tokyo_minute(bucket(started, 60)) in labels or tokyo_minute(bucket(time.time(), 60)) in labels
    page.context.close()


def test_before_the_first_arrival_the_chart_says_so(
    browser: Browser, live: LiveServer, settings: Settings, event: Event
) -> None:
    """No check-in yet: words instead of empty axes."""
    token = make_token(settings, event, Role.DASHBOARD)
    page = open_page(browser, f"{live.url}/dashboard/sympo#token={token}")
    expect(page.locator('[data-field="venue.checked_in"]')).to_have_text("0")
    expect(page.locator("#chart-arrivals-empty")).to_have_text("まだ来場者はいません")
    expect(page.locator("#chart-arrivals")).to_be_hidden()
    page.context.close()


def test_the_projectors_numbers_stand_level_when_a_label_wraps(
    browser: Browser, live: LiveServer, settings: Settings, event: Event
) -> None:
    """In the eight narrow columns a long label (視聴者数（ユニーク）) takes two lines: its number still starts
    on the same line as its neighbours' numbers."""
    token = make_token(settings, event, Role.DASHBOARD)
    page = open_page(browser, f"{live.url}/dashboard/sympo?projector=1#token={token}", 1920, 1080)
    expect(page.locator('[data-field="online.unique"]')).to_have_text("0")
    rows = page.evaluate(
        """() => {
          const rows = {};
          for (const figure of document.querySelectorAll(".figure")) {
            const top = Math.round(figure.getBoundingClientRect().top);
            const label = figure.querySelector("h2").getBoundingClientRect();
            const value = figure.querySelector(".value").getBoundingClientRect();
            (rows[top] ??= []).push({lines: Math.round(label.height), value: Math.round(value.top)});
          }
          return Object.values(rows);
        }"""
    )
    first = rows[0]
    assert len({cell["lines"] for cell in first}) == 1, first
    assert len({cell["value"] for cell in first}) == 1, first
    page.context.close()

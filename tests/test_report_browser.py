"""The report page in headless Chromium: the seeded day's figures, its print timestamp, and how many anonymous
viewers the per-address cap turned away."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from websockets.sync.client import connect

from checkin.models import Event, Role
from checkin.settings import Settings
from checkin.storage import opened
from tests.browser import chromium
from tests.conftest import make_token
from tests.report_seed import seed_day
from tests.utils import run_server

pytestmark = pytest.mark.browser


def test_the_report_shows_how_many_anonymous_viewers_were_refused(settings: Settings, event: Event) -> None:
    """One anonymous viewer per address: a second browser id is refused, and the report counts it."""
    capped = replace(settings, max_anonymous_per_address=1)
    with run_server(capped) as server, chromium() as browser:
        url = f"{server.ws_url}/ws/events/sympo/watch?anon="
        with connect(url + "a" * 20) as admitted, connect(url + "b" * 20) as refused:
            assert '"hello"' in str(admitted.recv(5))
            assert '"too_many_anonymous"' in str(refused.recv(5))
        page = browser.new_page()
        page.goto(f"{server.url}/dashboard/sympo/report#token={make_token(capped, event, Role.ORGANISER)}")
        expect(page.locator("#anonymous-refused")).to_contain_text("お断りした視聴者: 1 名")
        page.close()


def test_the_report_shows_the_seeded_truth_and_prints_its_time(settings: Settings, event: Event) -> None:
    """The figures on the page are the seeded day's; printed, the page carries「○年○月○日 ○時○分 現在」and
    none of its buttons; no live-only figure (in the hall now, kiosk health) is shown."""
    with opened(settings) as db:
        truth = seed_day(db, event)
    with run_server(settings) as server, chromium() as browser:
        context = browser.new_context(timezone_id="Europe/London")
        page = context.new_page()
        page.goto(f"{server.url}/dashboard/sympo/report#token={make_token(settings, event, Role.ORGANISER)}")
        figure = page.locator("[data-figure]")
        expect(page.locator('[data-figure="venue.rate"]')).to_have_text("70%")
        shown = {item.get_attribute("data-figure"): item.inner_text() for item in figure.all()}
        assert shown["venue.registered"] == "10 名" and shown["venue.arrived"] == "7 名"
        assert shown["venue.no_shows"] == "3 名" and shown["venue.walk_ins"] == "2 名"
        assert shown["online.unique"] == "4 名" and shown["online.peak"] == "4 名"
        assert shown["online.minutes"] == "75 分" and shown["online.minutes_per_viewer"] == "18.8 分"
        assert shown["both"] == "1 名" and shown["total"] == "13 名"
        peak = datetime.fromtimestamp(truth.peak_at, ZoneInfo("Asia/Tokyo")).strftime("%H:%M")
        expect(page.locator("#online-figures")).to_contain_text(f"{peak} 時点")
        for ref_no in truth.no_show_refs:
            expect(page.locator("#no-shows")).to_contain_text(ref_no)
        expect(page.locator("#walk-ins")).to_contain_text(truth.walk_in_names[0])
        expect(page.locator("#identity")).to_contain_text("2023年11月27日")
        expect(page.locator("#identity")).to_contain_text(event.venue_name)
        expect(page.locator("#xlsx")).to_have_attribute("href", "/admin/events/sympo/export.xlsx")
        expect(page.locator("#csv")).to_have_attribute("href", "/admin/events/sympo/export.csv")
        assert page.locator("text=在場者数").count() == 0 and page.locator("text=受付端末の状態").count() == 0
        page.emulate_media(media="print")
        expect(page.locator("#as-of")).to_be_visible()
        expect(page.locator("#as-of")).to_have_text(re.compile(r"^\d{4}年\d{1,2}月\d{1,2}日 \d{1,2}時\d{2}分 現在$"))
        assert page.locator("button:visible").count() == 0
        context.close()


def test_the_print_button_looks_like_the_pages_other_button(settings: Settings, event: Event) -> None:
    """「印刷」is drawn like「English」beside it in the header (same padding, border and background), not as
    the browser's bare default button."""
    with run_server(settings) as server, chromium() as browser:
        page = browser.new_page()
        page.goto(f"{server.url}/dashboard/sympo/report#token={make_token(settings, event, Role.ORGANISER)}")
        expect(page.locator("#print")).to_be_visible()
        style = "e => ['padding', 'border-radius', 'background-color', 'font-size'].map(p => getComputedStyle(e)[p])"
        assert page.locator("#print").evaluate(style) == page.locator("#lang").evaluate(style)
        page.close()

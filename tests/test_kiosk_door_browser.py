"""The kiosk's door policy and its screens for temporary staff, in headless Chromium against a real server:
the waiting list and 「入場を許可」 (online and offline), the exit-mode confirmation, capped search,
landmarks, English on the pairing screen and the contrast of exit mode."""

from __future__ import annotations

import time

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page

from checkin.models import Event
from checkin.settings import Settings
from checkin.storage import opened
from checkin.storage.events import update_event
from tests import test_kiosk_browser as kiosk_page
from tests.door_helpers import register
from tests.test_kiosk_browser import counts, open_kiosk, wait_result, wedge
from tests.utils import LiveServer

pytestmark = pytest.mark.browser
# The kiosk page's fixtures: one browser for the module, a fresh context and a kiosk token per test.
playwright, browser, context, kiosk_token = (
    kiosk_page.playwright,
    kiosk_page.browser,
    kiosk_page.context,
    kiosk_page.kiosk_token,
)

# The WCAG 2 contrast ratio of each element's text against the background it sits on.
CONTRAST = """
(selectors) => {
  const channel = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  const rgba = (text) => text.match(/[\\d.]+/g).map(Number);
  const luminance = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  const background = (node) => {
    for (; node; node = node.parentElement) {
      const colour = rgba(getComputedStyle(node).backgroundColor);
      if (colour.length < 4 || colour[3] > 0) return colour;
    }
    return [255, 255, 255];
  };
  return selectors.map((selector) => {
    const node = document.querySelector(selector);
    const [a, b] = [luminance(rgba(getComputedStyle(node).color)), luminance(background(node))];
    return [selector, (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)];
  });
}
"""
# Landmarks and headings a screen reader finds on what is shown now.
LANDMARKS = """
() => {
  const shown = (node) => node.offsetParent !== null || getComputedStyle(node).position === "fixed";
  const visible = (selector) => [...document.querySelectorAll(selector)].filter(shown);
  const top = (node) => !node.parentElement.closest("main, section, article, aside, nav, [role=dialog]");
  return {
    header: visible("header").filter(top).length,
    main: visible("main").length,
    nav: visible("nav").length,
    h1: visible("h1").map((node) => node.textContent.trim()),
  };
}
"""


def _waiting_list(settings: Settings, event: Event, hall: int) -> None:
    """No seats left (capacity 0: every venue registration waits) in a hall for `hall` people."""
    with opened(settings) as db:
        db.write_sync(update_event, event.slug, {"capacity": 0, "hall_capacity": hall}, "test", time.time())


def _join_waiting_list(live: LiveServer, name: str, kana: str, email: str) -> int:
    body = {"name": name, "kana": kana, "email": email, "mode": "venue", "waitlist": True}
    answer = httpx.post(f"{live.url}/api/v1/events/sympo/registrations", json=body).json()
    assert answer["registrant"]["status"] == "waitlisted"
    return int(answer["registrant"]["id"])


def _pick(page: Page, kana: str, name: str) -> None:
    page.click("[data-open-search]")
    page.fill("#search input", kana)
    page.click(f"#search li.registrant:has-text('{name}') button.pick")


def test_waitlisted_is_amber_and_admit_makes_it_green(
    context: BrowserContext, live: LiveServer, settings: Settings, event: Event, kiosk_token: str
) -> None:
    """A waitlisted person is amber with the room left and 「入場を許可」; pressing it checks them in (green),
    and taking the last place in the hall warns staff to stop admitting (hall_full)."""
    _waiting_list(settings, event, hall=1)
    _join_waiting_list(live, "待機 花子", "タイキ ハナコ", "taiki@example.jp")
    page = open_kiosk(context, live, kiosk_token, entries=0)
    _pick(page, "たいき", "待機 花子")
    wait_result(page, "waitlisted", "キャンセル待ちの方です（会場の空き 1名）")
    assert page.get_attribute("#result", "data-tone") == "warn"
    assert counts(live, kiosk_token) == {"checked_in": 0, "in_hall": 0}
    page.click("#result [data-admit]:has-text('入場を許可')")
    wait_result(page, "ok", "キャンセル待ちの方を入場許可しました")
    wait_result(page, "ok", "会場定員に達しました。当日参加・キャンセル待ちの方の入場は止めてください")
    assert page.get_attribute("#result", "data-tone") == "ok"
    assert counts(live, kiosk_token) == {"checked_in": 1, "in_hall": 1}
    page.wait_for_selector("[data-hall]:has-text('在場者数 1 / 会場定員 1')")


def test_admit_into_a_full_hall_is_refused_with_what_to_do(
    context: BrowserContext, live: LiveServer, settings: Settings, event: Event, kiosk_token: str
) -> None:
    """With no room in the hall, 「入場を許可」 answers venue_full (red) and tells staff where to send them."""
    _waiting_list(settings, event, hall=0)
    _join_waiting_list(live, "待機 花子", "タイキ ハナコ", "taiki@example.jp")
    page = open_kiosk(context, live, kiosk_token, entries=0)
    _pick(page, "たいき", "待機 花子")
    wait_result(page, "waitlisted", "会場の空き 0名")
    page.click("#result [data-admit]")
    wait_result(page, "venue_full", "事務局へご案内ください")
    assert counts(live, kiosk_token)["in_hall"] == 0


def test_offline_a_waitlisted_ticket_is_waitlisted_and_an_admit_is_sent_later(
    context: BrowserContext, live: LiveServer, settings: Settings, event: Event, kiosk_token: str
) -> None:
    """Offline, the copy's status makes a waitlisted person's ticket answer waitlisted; an admit made
    offline is queued and recorded by the server when the network is back."""
    with opened(settings) as db:
        person = register(db, event, 1)[0]
        db.write_sync(update_event, event.slug, {"hall_capacity": 5}, "test", time.time())
        # An organiser moved this person back to the waiting list; their ticket still scans.
        db.write_sync(
            lambda conn: conn.execute(
                "UPDATE registrants SET status = 'waitlisted' WHERE id = ?", (person.registrant.id,)
            )
        )
    assert person.ticket is not None
    page = open_kiosk(context, live, kiosk_token, entries=1)
    page.context.set_offline(True)
    wedge(page, person.ticket.code)
    wait_result(page, "waitlisted", "オフライン判定")
    page.click("#result [data-admit]")
    wait_result(page, "ok", "キャンセル待ちの方を入場許可しました")
    page.wait_for_selector("[data-offline] [data-queue]:has-text('未送信 2 件')")
    page.context.set_offline(False)
    page.wait_for_function("() => !document.querySelector('.status [data-queue]').textContent")
    assert counts(live, kiosk_token) == {"checked_in": 1, "in_hall": 1}


def test_exit_mode_needs_confirming_hides_walk_ins_and_meets_contrast(
    context: BrowserContext, live: LiveServer, kiosk_token: str
) -> None:
    """「退場モードへ」 asks first (staying is the default); exit mode hides 当日参加, and its bar's text has
    a WCAG AA contrast ratio (4.5:1) against the blue."""
    page = open_kiosk(context, live, kiosk_token, entries=0)
    page.click("[data-toggle-direction]")
    page.wait_for_selector("#exit-confirm h1:has-text('退場モードに切り替えますか？')")
    page.click("#exit-confirm button[value=no]")
    page.wait_for_selector("#exit-confirm", state="hidden")
    assert page.get_attribute("body", "data-direction") == "in"
    assert page.is_visible("[data-open-walkin]")
    page.click("[data-toggle-direction]")
    page.click("#exit-confirm button[value=yes]")
    page.wait_for_selector("body[data-direction=out]")  # the dialog's close event comes a moment later
    assert page.is_hidden("[data-open-walkin]")
    selectors = [
        "[data-event-title]",
        "[data-kiosk-name]",
        "[data-direction-label]",
        "[data-hall]",
        "[data-toggle-direction]",
        "[data-open-search]",
    ]
    ratios = dict(page.evaluate(CONTRAST, selectors))
    assert all(ratio >= 4.5 for ratio in ratios.values()), ratios
    page.click("[data-toggle-direction]")  # back to check-in at once
    assert page.get_attribute("body", "data-direction") == "in"


def test_search_shows_at_most_twenty_and_says_so(
    context: BrowserContext, live: LiveServer, settings: Settings, event: Event, kiosk_token: str
) -> None:
    """More than 20 matches: 20 rows and a line asking for more of the name; clearer button labels."""
    with opened(settings) as db:
        register(db, event, 21)
    page = open_kiosk(context, live, kiosk_token, entries=21)
    assert page.inner_text("[data-open-search]") == "名前で探す"
    page.click("[data-open-search]")
    page.fill("#search input", "やまだ")
    page.wait_for_selector("[data-search-capped]:has-text('20件まで表示しています。名前をもう少し入力してください')")
    assert page.locator("#search li.registrant").count() == 20
    page.fill("#search input", "山田 7郎")
    page.wait_for_selector("[data-search-capped]", state="hidden")


def test_every_screen_has_landmarks_and_one_heading_and_pairing_speaks_english(
    context: BrowserContext, live: LiveServer, kiosk_token: str
) -> None:
    """The pairing and scanning screens each have header, main, nav and one h1; pairing has an English switch."""
    page = context.new_page()
    page.goto(f"{live.url}/kiosk")
    page.wait_for_selector("#pairing h1")
    pairing = page.evaluate(LANDMARKS)
    assert (pairing["header"], pairing["main"], pairing["h1"]) == (1, 1, ["受付端末の設定"]) and pairing["nav"] >= 1
    page.click("#pairing [data-pair-lang]")
    assert page.evaluate(LANDMARKS)["h1"] == ["Set up this kiosk"]
    assert page.inner_text("#pairing label") == "Enter the pairing code from the organisers"
    page.click("#pairing [data-pair-lang]")
    scanning = open_kiosk(context, live, kiosk_token, entries=0)
    shown = scanning.evaluate(LANDMARKS)
    assert (shown["header"], shown["main"], len(shown["h1"])) == (1, 1, 1) and shown["nav"] >= 1
    scanning.click("[data-open-search]")
    assert scanning.evaluate(LANDMARKS)["h1"][-1] == "名前で探す"

"""A person registers in headless Chromium with the keyboard alone and gets a ticket whose QR scans."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import replace

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Page

from checkin.demo import SYMPOSIUM
from checkin.settings import Settings
from tests.browser import chromium
from tests.conftest import seed_event
from tests.utils import LiveServer

pytestmark = pytest.mark.browser
# What an accessibility checker would flag first: controls without labels, images without text.
UNLABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
  .filter(el => el.labels.length === 0).map(el => el.name)
  .concat([...document.querySelectorAll('img')].filter(img => !img.alt).map(img => img.src))"""
# Text whose contrast with its background is below WCAG AA: 4.5:1, or 3:1 for large text.
LOW_CONTRAST = """() => {
  const rgb = text => text.match(/[\\d.]+/g).map(Number);
  const luminance = ([r, g, b]) => [r, g, b].map(v => v / 255)
    .map(v => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4)
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const background = el => {
    for (; el; el = el.parentElement) {
      const colour = rgb(getComputedStyle(el).backgroundColor);
      if (colour.length < 4 || colour[3] > 0) return colour.slice(0, 3);
    }
    return [255, 255, 255];
  };
  return [...document.querySelectorAll('body *')]
    .filter(el => [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()) && el.checkVisibility())
    .filter(el => {
      const style = getComputedStyle(el);
      const [a, b] = [luminance(rgb(style.color).slice(0, 3)), luminance(background(el))];
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      const size = parseFloat(style.fontSize);
      const large = size >= 24 || (size >= 18.66 && style.fontWeight >= 700);
      return ratio < (large ? 3 : 4.5);
    }).map(el => el.textContent.trim().slice(0, 40));
}"""


# The ticket's QR image, read in the page by the decoder the kiosk uses (ZXing-C++ WebAssembly).
@pytest.fixture
def page() -> Iterator[Page]:
    with chromium() as browser:
        yield browser.new_page(locale="ja-JP")


def focused(page: Page) -> str:
    return str(page.evaluate("document.activeElement.id"))


def tab_to(page: Page, element_id: str) -> None:
    """Press Tab until the element has focus, as a keyboard user would."""
    for _ in range(30):
        if focused(page) == element_id:
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached #{element_id}")


def test_keyboard_registration_lands_on_a_scannable_ticket(live: LiveServer, page: Page) -> None:
    """Empty submit focuses the error summary; then, by keyboard, the form yields a ticket whose QR decodes."""
    page.goto(f"{live.url}/e/sympo/")
    assert page.evaluate(UNLABELLED) == []
    tab_to(page, "f-name")
    page.keyboard.press("Enter")
    page.wait_for_selector("#error-summary")
    assert focused(page) == "error-summary"
    assert page.evaluate(LOW_CONTRAST) == []

    tab_to(page, "f-name")
    page.keyboard.type("髙橋 﨑子")
    page.keyboard.press("Tab")
    page.keyboard.type("タカハシ サキコ")
    page.keyboard.press("Tab")
    page.keyboard.type("saki@example.jp")
    page.keyboard.press("Tab")
    page.keyboard.type("総務省")
    page.keyboard.press("Tab")
    assert focused(page) == "f-mode"
    page.keyboard.press("Space")
    tab_to(page, "f-consent")
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    with page.expect_navigation():
        page.keyboard.press("Enter")

    assert "/t/CK1-" in page.url
    code = page.url.rsplit("/t/", 1)[1].split("?", 1)[0]
    assert page.text_content(".holder") == "髙橋 﨑子 様"
    assert page.evaluate(LOW_CONTRAST) == [] and page.evaluate(UNLABELLED) == []
    shown = Image.open(io.BytesIO(page.locator(".qr img").screenshot()))
    assert [found.text for found in zxingcpp.read_barcodes(shown)] == [code]

    page.emulate_media(media="print")
    assert not page.is_visible("header.site") and not page.is_visible(".actions")
    assert page.is_visible(".qr img")


def test_the_language_link_stays_on_one_line_beside_a_long_header(live: LiveServer, settings: Settings) -> None:
    """On a phone, a header with a long title and organisers leaves the language link whole (「日本語」 was
    squeezed into one character per line)."""
    seed_event(settings, replace(SYMPOSIUM, slug="long"))  # five ministries as organisers
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 390, "height": 844})
        page.goto(f"{live.url}/e/long/?lang=en")
        link = page.locator("nav.lang a")
        assert link.inner_text() == "日本語"
        assert link.evaluate("a => a.getClientRects().length") == 1
        box = link.bounding_box()
        assert box is not None and box["x"] + box["width"] <= 390

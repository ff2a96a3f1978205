"""The ticket page in Chromium: the print button appears, prints, and breaks no content-security rule."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page

from tests.browser import chromium
from tests.utils import LiveServer

pytestmark = pytest.mark.browser
# Count the calls instead of opening the print dialog (headless Chromium has none to show).
COUNT_PRINTS = "window.printed = 0; window.print = () => { window.printed += 1; };"
LISTEN = """document.addEventListener("securitypolicyviolation", (e) => {
  (window.violations = window.violations || []).push(e.violatedDirective);
});"""


@pytest.fixture
def page() -> Iterator[Page]:
    with chromium() as browser:
        context = browser.new_context(locale="ja-JP")
        context.add_init_script(COUNT_PRINTS)
        context.add_init_script(LISTEN)
        yield context.new_page()


def test_print_button_prints_the_ticket(live: LiveServer, page: Page) -> None:
    page.goto(f"{live.url}/e/sympo/")
    page.fill("#f-name", "髙橋 﨑子")
    page.fill("#f-kana", "タカハシ サキコ")
    page.fill("#f-email", "saki@example.jp")
    page.check("#f-mode")
    page.check("#f-consent")
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert "/t/CK1-" in page.url
    assert page.is_visible("#registered") and "お申し込みを受け付けました" in page.text_content("#registered")
    button = page.locator("#print-ticket")
    button.wait_for(state="visible")
    assert button.text_content() == "参加証を印刷する"
    button.click()
    assert page.evaluate("window.printed") == 1
    assert page.evaluate("window.violations || []") == []
    page.emulate_media(media="print")
    assert not page.is_visible("#print-ticket") and not page.is_visible("#registered")
    assert page.is_visible(".qr img")

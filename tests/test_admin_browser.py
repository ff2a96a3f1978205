"""A real browser: log in to the admin, change a setting, and see it saved."""

from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright

from checkin.models import Event
from checkin.settings import Settings
from tests.conftest import ORGANISER, make_user
from tests.utils import LiveServer

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.mark.browser
def test_organiser_logs_in_and_changes_the_capacity(settings: Settings, event: Event, live: LiveServer) -> None:
    """Chromium follows the login redirect, logs in, saves a new capacity and sees it kept."""
    make_user(settings)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{live.url}/admin/events/{event.slug}/settings")
            assert "/admin/login" in page.url
            page.get_by_label("ログインID").fill(ORGANISER[0])
            page.get_by_label("パスワード").fill(ORGANISER[1])
            page.get_by_role("button", name="ログイン").click()
            page.wait_for_url(f"**/admin/events/{event.slug}/settings")
            page.get_by_label("会場の定員").fill("120")
            page.get_by_role("button", name="保存する").click()
            page.wait_for_url("**done=settings_saved**")
            assert page.get_by_role("status").first.inner_text() == "設定を保存しました。"
            assert page.get_by_label("会場の定員").input_value() == "120"
        finally:
            browser.close()

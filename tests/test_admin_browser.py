"""A real browser: log in to the admin, change a setting, and see it saved."""

from __future__ import annotations

import pytest

from checkin.models import Event
from checkin.settings import Settings
from tests.browser import chromium
from tests.conftest import ORGANISER, make_user
from tests.utils import LiveServer


@pytest.mark.browser
def test_organiser_logs_in_and_changes_the_capacity(settings: Settings, event: Event, live: LiveServer) -> None:
    """Chromium follows the login redirect, logs in, saves a new capacity and sees it kept."""
    make_user(settings)
    with chromium() as browser:
        page = browser.new_page()
        page.goto(f"{live.url}/admin/events/{event.slug}/settings")
        assert "/admin/login" in page.url
        page.get_by_label("ログインID").fill(ORGANISER[0])
        page.get_by_label("パスワード").fill(ORGANISER[1])
        page.get_by_role("button", name="ログイン").click()
        page.wait_for_url(f"**/admin/events/{event.slug}/settings")
        page.get_by_label("申込定員（会場参加の席数）").fill("120")
        page.get_by_role("button", name="保存する").click()
        page.wait_for_url("**done=settings_saved**")
        assert page.get_by_role("status").first.inner_text() == "設定を保存しました。"
        assert page.get_by_label("申込定員（会場参加の席数）").input_value() == "120"

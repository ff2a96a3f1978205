"""The organisers' office in Chromium: import a list, send the tickets (the progress page reloads itself until
done) to a real SMTP server, then check someone in from their page."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from playwright.sync_api import expect

from checkin.models import Event
from checkin.settings import Settings
from tests.browser import chromium
from tests.conftest import ORGANISER, make_user
from tests.smtp import SmtpSink
from tests.test_admin_tickets import THREE
from tests.utils import run_server

pytestmark = pytest.mark.browser


def test_send_the_tickets_then_check_someone_in(
    smtp_settings: Settings, event: Event, smtp: SmtpSink, tmp_path: Path
) -> None:
    """Import three people, press the button, watch the sending finish, then check one in and undo it."""
    make_user(smtp_settings)
    listing = tmp_path / "list.csv"
    listing.write_bytes(THREE.encode("utf-8"))
    settings = replace(smtp_settings, smtp=replace(smtp_settings.smtp, sender="事務局 <info@example.go.jp>"))
    with run_server(settings) as server, chromium() as browser:
        page = browser.new_page()
        page.goto(f"{server.url}/admin/events/sympo/files")
        page.get_by_label("ログインID").fill(ORGANISER[0])
        page.get_by_label("パスワード").fill(ORGANISER[1])
        page.get_by_role("button", name="ログイン").click()
        page.wait_for_url("**/admin/events/sympo/files")
        page.set_input_files("#f-file", str(listing))
        page.locator("form[enctype] button[type=submit]").click()
        expect(page.locator("#not-sent")).to_contain_text("参加証はまだ送信していません（3 件）")
        page.get_by_role("button", name="参加証を送信する（3 件）").first.click()
        page.wait_for_url("**/admin/events/sympo/tickets")
        expect(page.get_by_role("heading", name="送信が終わりました")).to_be_visible(timeout=15_000)
        expect(page.locator("#send-progress")).to_have_attribute("value", "3")
        assert len(smtp.received) == 3
        page.get_by_role("link", name="申込者").first.click()
        page.get_by_role("link", name="山田 太郎").click()
        page.get_by_role("link", name="受付する").click()
        page.get_by_role("button", name="受付する").click()
        expect(page.get_by_role("status").first).to_have_text("受付しました。")
        page.get_by_role("link", name="受付を取り消す").click()
        page.get_by_role("button", name="取り消す").click()
        expect(page.get_by_role("status").first).to_have_text("受付を取り消しました。")

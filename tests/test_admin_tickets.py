"""Sending the tickets from the admin: the import says nobody was e-mailed yet, one button sends them all to a
real SMTP server with a progress page the server renders, and the sender warns while it is the default."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
from starlette.testclient import TestClient

from checkin.app import create_app
from checkin.models import Event
from checkin.settings import Settings
from tests.conftest import log_in, make_user
from tests.smtp import SmtpSink
from tests.test_admin_files import GOOD, HEADER

FILES = "/admin/events/sympo/files"
TICKETS = "/admin/events/sympo/tickets"
SENDER = "事務局 <info@example.go.jp>"
THREE = GOOD + "R003,山田 太郎,ヤマダ タロウ,taro@example.jp,,会場参加\r\n"


@pytest.fixture
def mailing(smtp_settings: Settings, event: Event) -> Iterator[tuple[TestClient, str]]:
    """A logged-in admin whose mail goes to the real SMTP server, from a real sender."""
    make_user(smtp_settings)
    with TestClient(create_app(replace(smtp_settings, smtp=replace(smtp_settings.smtp, sender=SENDER)))) as client:
        yield client, log_in(client)


def finished_page(client: TestClient) -> str:
    """The tickets page once the sending is over (it reloads itself until then, as a browser would)."""
    for _ in range(200):
        page = client.get(TICKETS).text
        if 'http-equiv="refresh"' not in page:
            return page
        time.sleep(0.05)
    raise AssertionError("the sending never finished")


def test_an_import_says_no_ticket_was_sent_and_the_button_sends_them_all(
    mailing: tuple[TestClient, str], smtp: SmtpSink
) -> None:
    """After an import nobody is e-mailed and the page says so; the button sends each ticket once, with progress."""
    client, csrf = mailing
    imported = client.post(FILES, data={"csrf": csrf}, files={"file": ("list.csv", THREE.encode(), "text/csv")}).text
    assert "参加証はまだ送信していません（3 件）" in imported
    assert f'action="{TICKETS}/send"' in imported
    assert smtp.received == []
    started = client.post(f"{TICKETS}/send", data={"csrf": csrf}, follow_redirects=False)
    assert started.status_code == 303 and started.headers["location"] == TICKETS
    page = finished_page(client)
    assert "送信が終わりました" in page and "送信 3 件・失敗 0 件" in page
    assert re.search(r'<progress id="send-progress" value="3" max="3">', page)
    assert sorted(to for recipients, _ in smtp.received for to in recipients) == [
        "ken@example.jp", "saki@example.jp", "taro@example.jp",
    ]  # fmt: skip
    assert "参加証はすべて送信済みです" in page
    again = client.post(f"{TICKETS}/send", data={"csrf": csrf})
    assert "送信 0 件" in finished_page(client) and len(smtp.received) == 3 and again.status_code == 200
    assert '<td data-action="tickets.send">参加証を一括送信</td>' in client.get("/admin/events/sympo/audit").text


def test_a_dead_mail_server_stops_the_sending_and_says_so(mailing: tuple[TestClient, str], smtp: SmtpSink) -> None:
    """The server closes after one message: the page says the sending stopped and sending again continues."""
    client, csrf = mailing
    client.post(FILES, data={"csrf": csrf}, files={"file": ("list.csv", THREE.encode(), "text/csv")})
    smtp.closing_after = 1
    client.post(f"{TICKETS}/send", data={"csrf": csrf})
    page = finished_page(client)
    assert "途中で止まりました" in page and "参加証はまだ送信していません" in page


def test_sending_needs_the_form_token(mailing: tuple[TestClient, str], smtp: SmtpSink) -> None:
    """A forged form (no CSRF token) sends nothing."""
    client, csrf = mailing
    client.post(FILES, data={"csrf": csrf}, files={"file": ("list.csv", THREE.encode(), "text/csv")})
    assert client.post(f"{TICKETS}/send", data={}).status_code == 403
    assert "参加証はまだ送信していません（3 件）" in client.get(TICKETS).text and smtp.received == []


def test_the_admin_warns_while_the_sender_is_the_default(client: TestClient, organiser: str) -> None:
    """The placeholder sender gets a warning on the event list, the tickets page and after an import."""
    assert "CHECKIN_SMTP_FROM" in client.get("/admin").text
    assert "CHECKIN_SMTP_FROM" in client.get(TICKETS).text
    one = HEADER + "R001,髙橋 﨑子,タカハシ サキコ,saki@example.jp,総務省,会場参加\r\n"
    imported = client.post(FILES, data={"csrf": organiser}, files={"file": ("l.csv", one.encode(), "text/csv")})
    assert "CHECKIN_SMTP_FROM" in imported.text


def test_a_real_sender_has_no_warning(mailing: tuple[TestClient, str]) -> None:
    """CHECKIN_SMTP_FROM set: no warning, and the page names the sender."""
    client, _ = mailing
    page = client.get(TICKETS).text
    assert "CHECKIN_SMTP_FROM" not in page and "info@example.go.jp" in page

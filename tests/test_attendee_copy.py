"""What attendees read after registering, and the words used across pages, e-mails, files and docs."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.testclient import TestClient

from checkin.app import create_app
from checkin.demo import SYMPOSIUM
from checkin.settings import Settings
from tests.conftest import seed_event

ROOT = Path(__file__).resolve().parent.parent
FORM = {"name": "髙橋 﨑子", "kana": "タカハシ サキコ", "email": "saki@example.jp", "consent": "yes"}
SHOW_AT_VENUE = re.compile(r"会場.{0,6}受付で.{0,20}ご提示|show the QR code at the check-in", re.S)


@pytest.fixture
def demo(settings: Settings) -> Iterator[TestClient]:
    seed_event(settings, SYMPOSIUM)
    with TestClient(create_app(settings)) as client:
        yield client


def register(client: TestClient, mode: str, address: str = "saki@example.jp") -> str:
    response = client.post("/e/telework2023/", data={**FORM, "mode": mode, "email": address}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def the_mail(settings: Settings) -> EmailMessage:
    [path] = settings.smtp.outbox.glob("*.eml")
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def bodies(message: EmailMessage) -> dict[str, str]:
    parts = {kind: message.get_body(preferencelist=(kind,)) for kind in ("plain", "html")}
    return {kind: part.get_content() for kind, part in parts.items() if part is not None}


def test_after_registering_the_page_says_it_was_taken_and_what_comes_next(demo: TestClient) -> None:
    """Venue: the confirmation, the e-mail address, and to bring the ticket on the phone or printed."""
    page = demo.get(register(demo, "venue")).text
    assert "お申し込みを受け付けました" in page
    assert "saki@example.jp 宛てに" in page
    assert "スマートフォンの画面、または印刷したもの" in page and "受付は13:00から" in page
    again = demo.get(register(demo, "venue", "other@example.jp").split("?")[0]).text
    assert "お申し込みを受け付けました" not in again  # only right after the form


def test_online_ticket_and_mail_give_the_watch_link_and_never_send_people_to_the_door(
    demo: TestClient, settings: Settings
) -> None:
    location = register(demo, "online")
    code = location.split("/t/")[1].split("?")[0]
    page = demo.get(location).text
    assert "お申し込みを受け付けました" in page and "配信は2023年11月27日(月) 13:30に始まります" in page
    assert f'href="/w/{code}"' in page
    assert SHOW_AT_VENUE.search(page) is None
    for kind, body in bodies(the_mail(settings)).items():
        assert f"/w/{code}" in body and "13:30に始まります" in body, kind
        assert SHOW_AT_VENUE.search(body) is None, kind


def test_venue_mail_still_says_to_show_the_qr_code(demo: TestClient, settings: Settings) -> None:
    register(demo, "venue")
    for kind, body in bodies(the_mail(settings)).items():
        assert SHOW_AT_VENUE.search(body) is not None, kind


def test_waiting_list_notice_says_what_it_means(settings: Settings) -> None:
    from dataclasses import replace

    seed_event(settings, replace(SYMPOSIUM, capacity=0))
    with TestClient(create_app(settings)) as client:
        page = client.get(register(client, "waitlist")).text
    assert "お申し込みを受け付けました（キャンセル待ち）" in page
    assert "まだ席は確保されていません" in page and "メールアドレスへ参加証" in page


def test_titles_with_brackets_are_not_wrapped_again(demo: TestClient, settings: Settings) -> None:
    """「「働く、を変える」…」 nowhere: not on the cancel page, not in either part of the e-mail."""
    code = register(demo, "venue").split("/t/")[1].split("?")[0]
    cancel = demo.get(f"/t/{code}/cancel").text
    assert "「働く、を変える」テレワークイベントへの申込をキャンセルします" in cancel
    texts = [cancel, *bodies(the_mail(settings)).values()]
    assert all("「「" not in text and "」」" not in text for text in texts)
    assert "「働く、を変える」テレワークイベントにお申し込みいただき" in bodies(the_mail(settings))["plain"]


def test_plain_titles_are_quoted_once(client: TestClient) -> None:
    from checkin.models import Event

    plain = Event(id=1, slug="x", title="テストシンポジウム", starts_at=0, ends_at=1, capacity=1)
    assert plain.quoted_title() == "「テストシンポジウム」" and plain.quoted_title("en") == "“テストシンポジウム”"


def test_login_page_says_who_creates_logins_in_words(client: TestClient) -> None:
    html = client.get("/admin/login").text
    assert "`" not in html and "checkin user add" not in html
    assert "システム管理者にログインIDの作成を依頼してください" in html


# Words the glossary replaced; kiosk/ and static/dashboard/ belong to the kiosk and dashboard.
WRONG = re.compile("チケット|ペアリングコード|出席状況")
CHECKED = ["checkin/locales", "checkin/templates", "static/css", "static/pages", "static/watch", "docs", "README.md"]
ELSEWHERE = {"docs/KIOSK.md"}  # quotes the kiosk's own messages


def test_one_term_per_concept() -> None:
    """参加証, not チケット; 接続コード, not ペアリングコード; 参加報告, not 出席状況."""
    found = []
    for root in CHECKED:
        paths = [ROOT / root] if (ROOT / root).is_file() else sorted((ROOT / root).rglob("*"))
        for path in paths:
            # docs/screenshots/*.png are images, not copy
            if path.is_file() and path.suffix != ".png" and str(path.relative_to(ROOT)) not in ELSEWHERE:
                found += [f"{path.relative_to(ROOT)}: {m.group()}" for m in WRONG.finditer(path.read_text("utf-8"))]
    assert found == []


def test_export_headers_say_sanka_sho() -> None:
    from checkin.csvio import EXPORT_HEADERS

    assert "参加証URL" in EXPORT_HEADERS["ja"]


def test_calendar_links_carry_only_public_event_data(demo: TestClient) -> None:
    """Google Calendar and Outlook.com links: title, times, place; never the ticket code or the person."""
    code = register(demo, "venue").split("/t/")[1].split("?")[0]
    html = demo.get(f"/t/{code}").text
    links = dict(re.findall(r'<a class="(google|outlook)" href="([^"]+)"', html))
    assert set(links) == {"google", "outlook"}
    google = urlsplit(links["google"].replace("&amp;", "&"))
    outlook = urlsplit(links["outlook"].replace("&amp;", "&"))
    assert (google.netloc, outlook.netloc) == ("calendar.google.com", "outlook.live.com")
    g, o = parse_qs(google.query), parse_qs(outlook.query)
    assert g["text"] == [SYMPOSIUM.title] and g["dates"] == ["20231127T043000Z/20231127T073000Z"]
    assert o["subject"] == [SYMPOSIUM.title] and o["startdt"] == ["2023-11-27T04:30:00Z"]
    assert "御茶ノ水ソラシティ" in g["location"][0] and "/e/telework2023/" in g["details"][0]
    for link in links.values():
        assert code not in link and "saki" not in link and "髙橋" not in link and "W0" not in link


def test_ticket_page_has_a_print_button_run_by_a_module_script(demo: TestClient) -> None:
    """The button starts hidden (it needs the script); the script is a file, so the strict CSP allows it."""
    code = register(demo, "venue").split("/t/")[1].split("?")[0]
    html = demo.get(f"/t/{code}").text
    assert '<button type="button" class="secondary" id="print-ticket" hidden>' in html
    assert '<script type="module" src="/static/pages/ticket.js"></script>' in html
    assert "onclick" not in html
    assert demo.get("/static/pages/ticket.js").status_code == 200

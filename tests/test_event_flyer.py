"""What the flyer says about an event: stored, validated, and shown where attendees look."""

from __future__ import annotations

import email
import email.policy
import sqlite3
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from checkin.app import create_app
from checkin.cli import main
from checkin.demo import SYMPOSIUM
from checkin.errors import Invalid
from checkin.eventform import parse_settings
from checkin.models import Mode
from checkin.registration import Application
from checkin.settings import Settings
from checkin.storage import Database, database_for, schema
from checkin.storage import registrants as store
from checkin.storage.events import get_event
from checkin.storage.schema import MIGRATIONS, migrate
from checkin.ticketmail import compose
from tests.conftest import seed_event

# What the flyer of the demo symposium says, beyond date, time, venue and seats.
FLYER = (
    "無料",
    "オンライン配信あり",
    "内閣府、総務省、厚生労働省、経済産業省、国土交通省",
    "表彰式",
    "講評",
    "受賞企業の取組事例発表",
    "定員になり次第",
    "開場",
    "13:00",
    "アクセス",
    "問い合わせ先",
    "telework-office@example.jp",
)
FORM = {
    "title": "テスト",
    "starts_at": "2023-11-27T13:30",
    "ends_at": "2023-11-27T16:30",
    "capacity": "10",
}


@pytest.fixture
def demo_client(settings: Settings) -> Iterator[TestClient]:
    """A server with the demo symposium, as `checkin serve --demo` seeds it."""
    seed_event(settings, SYMPOSIUM)
    with TestClient(create_app(settings)) as client:
        yield client


def register(client: TestClient, mode: str, email_address: str = "saki@example.jp") -> str:
    form = {"name": "髙橋 﨑子", "kana": "タカハシ サキコ", "email": email_address, "mode": mode, "consent": "yes"}
    response = client.post(f"/e/{SYMPOSIUM.slug}/", data=form, follow_redirects=False)
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def test_the_event_page_says_what_the_flyer_says(demo_client: TestClient) -> None:
    """Fee, online stream, organisers, programme, deadline, doors, access and contact are on the page."""
    html = demo_client.get("/e/telework2023/").text
    missing = [text for text in FLYER if text not in html]
    assert missing == []
    assert html.index("表彰式") < html.index("講評") < html.index("受賞企業の取組事例発表")


def test_attendee_pages_name_the_event_and_organisers_not_the_product(demo_client: TestClient) -> None:
    """The header of the event, ticket, cancel and watch pages shows the event and its organisers."""
    code = register(demo_client, "online").split("/t/")[1].split("?")[0]
    pages = ("/e/telework2023/", f"/t/{code}", f"/t/{code}/cancel", f"/w/{code}", "/e/telework2023/cancelled")
    for path in (*pages, "/e/telework2023/resend"):
        html = demo_client.get(path).text
        header = html[html.index('<header class="site">') : html.index("</header>")]
        assert "checkin" not in html.split("<main", 1)[0], path
        assert "「働く、を変える」テレワークイベント" in header and "主催：内閣府" in header, path


def test_english_pages_use_the_english_texts(demo_client: TestClient) -> None:
    """With ?lang=en the English versions show; a field without one falls back to the Japanese."""
    html = demo_client.get("/e/telework2023/?lang=en").text
    assert "Free" in html and "Award ceremony" in html and "When all seats are taken" in html
    assert "“Change How We Work”: Telework Symposium" in html


def test_ticket_and_watch_pages_show_programme_and_contact(demo_client: TestClient) -> None:
    code = register(demo_client, "online").split("/t/")[1].split("?")[0]
    for path in (f"/t/{code}", f"/w/{code}"):
        html = demo_client.get(path).text
        assert "受賞企業の取組事例発表" in html and "telework-office@example.jp" in html, path
        assert "内閣府、総務省、厚生労働省、経済産業省、国土交通省" in html, path


def test_the_ticket_e_mail_carries_the_flyer(demo_client: TestClient, settings: Settings) -> None:
    """Text and HTML parts give doors, organisers, programme, access and contact."""
    register(demo_client, "venue")
    [path] = settings.smtp.outbox.glob("*.eml")
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    for kind in ("plain", "html"):
        part = message.get_body(preferencelist=(kind,))
        assert part is not None
        body = part.get_content()
        for text in ("開場", "13:00", "主催", "表彰式", "講評", "JR中央線", "telework-office@example.jp"):
            assert text in body, (kind, text)


def test_flyer_fields_are_validated(settings: Settings) -> None:
    """Programme keeps its lines; too long texts, a bad base URL and doors after the start are refused."""
    ok = parse_settings({**FORM, "programme": " 表彰式\r\n\r\n\r\n講評 \n", "base_url": "https://c.example.jp/"})
    assert ok.programme == "表彰式\n\n講評" and ok.base_url == "https://c.example.jp"
    with pytest.raises(Invalid) as bad:
        parse_settings(
            {
                **FORM,
                "fee": "x" * 101,
                "programme": "y" * 2001,
                "base_url": "javascript:alert(1)",
                "doors_open_at": "2023-11-27T14:00",
            }
        )
    assert bad.value.fields == {
        "fee": "too_long",
        "programme": "too_long",
        "base_url": "url",
        "doors_open_at": "doors_order",
    }
    with pytest.raises(Invalid) as query:
        parse_settings({**FORM, "base_url": "https://c.example.jp/?x=1"})
    assert query.value.fields == {"base_url": "url"}


def test_migration_13_adds_plain_columns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Version 13 adds one plain column per field (no JSON); an existing event gets empty values."""
    conn = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    try:
        monkeypatch.setattr(schema, "MIGRATIONS", [step for step in MIGRATIONS if step[0] < 13])
        assert migrate(conn) < 13
        conn.execute(
            "INSERT INTO events (slug, title, starts_at, ends_at, capacity, created_at) VALUES ('old', 'x', 0, 1, 5, 0)"
        )
        monkeypatch.undo()
        assert migrate(conn) >= 13
        columns = {row[1]: row[2] for row in conn.execute("PRAGMA table_info(events)")}
        old = conn.execute("SELECT fee, programme, base_url, doors_open_at FROM events WHERE slug = 'old'").fetchone()
    finally:
        conn.close()
    for name in ("title_en", "fee", "organisers", "programme", "deadline", "access", "contact", "base_url"):
        assert columns[name] == "TEXT", name
    assert columns["doors_open_at"] == "REAL" and old == ("", "", "", None)


def test_admin_edits_the_flyer_and_the_base_url(client: TestClient, organiser: str, settings: Settings) -> None:
    """The admin's settings form saves the new fields; the event page shows them."""
    form = {
        **FORM,
        "csrf": organiser,
        "title": "テストシンポジウム",
        "capacity": "50",
        "registration_open": "on",
        "fee": "無料",
        "organisers": "総務省",
        "programme": "開会\n基調講演",
        "base_url": "https://checkin.example.jp",
    }
    assert client.post("/admin/events/sympo/settings", data=form).status_code == 200
    page = client.get("/admin/events/sympo/settings").text
    assert 'value="https://checkin.example.jp"' in page and "開会\n基調講演</textarea>" in page
    html = client.get("/e/sympo/").text
    assert "基調講演" in html and "主催：総務省" in html
    bad = client.post("/admin/events/sympo/settings", data={**form, "base_url": "ftp://x"})
    assert bad.status_code == 422 and "公開URL" in bad.text


def test_admin_creation_form_offers_the_server_address(client: TestClient, organiser: str, settings: Settings) -> None:
    assert f'value="{settings.base_url}"' in client.get("/admin/events/new").text


# --- `checkin event create` and `checkin export`


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("CHECKIN_DB", settings.db)
    monkeypatch.setenv("CHECKIN_OUTBOX", str(settings.smtp.outbox))
    monkeypatch.delenv("CHECKIN_BASE_URL", raising=False)
    return settings


def stored(settings: Settings, slug: str) -> Database:
    db = database_for(settings)
    db.open()
    return db


def create(slug: str, *options: str) -> int:
    base = ["event", "create", slug, "--title", "フォーラム", "--starts", "2024-02-01T13:00+09:00"]
    return main([*base, "--ends", "2024-02-01T15:00+09:00", "--capacity", "80", *options])


def test_event_create_takes_the_flyer_options(cli_env: Settings) -> None:
    assert (
        create(
            "forum",
            "--fee",
            "無料",
            "--organisers",
            "総務省",
            "--programme",
            "開会",
            "--programme",
            "講演",
            "--deadline",
            "定員になり次第",
            "--doors-open-at",
            "2024-02-01T12:30+09:00",
            "--contact",
            "事務局",
            "--base-url",
            "https://forum.example.jp/",
            "--title-en",
            "Forum",
        )
        == 0
    )
    db = stored(cli_env, "forum")
    try:
        event = db.read_sync(get_event, "forum")
    finally:
        db.close()
    assert (event.fee, event.organisers, event.programme, event.deadline) == (
        "無料",
        "総務省",
        "開会\n講演",
        "定員になり次第",
    )
    assert event.base_url == "https://forum.example.jp" and event.title_en == "Forum" and event.contact == "事務局"
    assert event.doors_open_at is not None and event.starts_at - event.doors_open_at == 1800


def test_event_create_stores_checkin_base_url(cli_env: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHECKIN_BASE_URL", "https://env.example.jp")
    assert create("forum") == 0
    db = stored(cli_env, "forum")
    try:
        assert db.read_sync(get_event, "forum").base_url == "https://env.example.jp"
    finally:
        db.close()


def test_event_create_rejects_a_bad_base_url(cli_env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert create("forum", "--base-url", "javascript:alert(1)") == 1
    assert "base_url: url" in capsys.readouterr().err


def test_export_uses_the_event_base_url_or_refuses(
    cli_env: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without a stored base URL nor CHECKIN_BASE_URL, export refuses instead of writing port-8000 links."""
    assert create("nobase") == 0
    db = stored(cli_env, "nobase")
    try:
        event = db.read_sync(get_event, "nobase")
        app = Application("山田 太郎", "ヤマダ タロウ", "taro@example.jp", "", Mode.VENUE)
        db.write_sync(store.register, event, app, time.time())
    finally:
        db.close()
    target = tmp_path / "report.csv"
    assert main(["export", "nobase", str(target)]) == 1
    assert not target.exists() and "公開URL" in capsys.readouterr().err
    monkeypatch.setenv("CHECKIN_BASE_URL", "https://env.example.jp")
    assert main(["export", "nobase", str(target)]) == 0
    assert "https://env.example.jp/t/CK1-" in target.read_text("utf-8-sig")

    monkeypatch.delenv("CHECKIN_BASE_URL")
    assert create("withbase", "--base-url", "https://stored.example.jp") == 0
    db = stored(cli_env, "withbase")
    try:
        event = db.read_sync(get_event, "withbase")
        db.write_sync(store.register, event, app, time.time())
    finally:
        db.close()
    monkeypatch.setenv("CHECKIN_BASE_URL", "http://127.0.0.1:9999")
    assert main(["export", "withbase", str(target)]) == 0
    assert "https://stored.example.jp/t/CK1-" in target.read_text("utf-8-sig")


def test_mail_links_use_the_event_base_url() -> None:
    """The e-mail, the export and the pages agree: the event's own base URL wins over the server's."""
    from dataclasses import replace

    from checkin.models import Registrant, Status, Ticket

    event = replace(SYMPOSIUM, id=1, base_url="https://stored.example.jp")
    person = Registrant(
        1, 1, "W1", "山田 太郎", "ヤマダ タロウ", "taro@example.jp", "", Mode.ONLINE, Status.REGISTERED, 0
    )
    ticket = Ticket(1, 1, "CK1-ABCD", 0)
    message = compose(
        event,
        person,
        ticket,
        kind="ticket",
        base_url="http://127.0.0.1:8000",
        sender="a@example.jp",
        now=0,
        recipient="taro@example.jp",
    )
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    text = parsed.get_body(preferencelist=("plain",))
    assert text is not None
    body = text.get_content()
    assert "https://stored.example.jp/t/CK1-ABCD" in body and "https://stored.example.jp/w/CK1-ABCD" in body
    assert "127.0.0.1" not in body

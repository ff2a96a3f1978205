"""The organisers' registrant pages: search, filters, pages, and the actions on one registrant."""

from __future__ import annotations

import email
import email.message
import email.policy
import re
import time

import pytest
from starlette.testclient import TestClient

from checkin.models import Event
from checkin.services import Services
from checkin.settings import Settings
from checkin.storage import opened
from tests.test_admin import register, settings_form

pytestmark = pytest.mark.both_engines

BASE = "/admin/events/sympo/registrants"


def _sql(settings: Settings, sql: str, *params: object) -> list[tuple[object, ...]]:
    """Run one statement on the test's database (either engine); its rows."""
    with opened(settings) as db:
        return db.write_sync(lambda conn: [tuple(row) for row in conn.execute(sql, params).fetchall()])


def _codes(settings: Settings, registrant_id: int) -> list[tuple[object, ...]]:
    return _sql(settings, "SELECT code, revoked_reason FROM tickets WHERE registrant_id = ? ORDER BY id", registrant_id)


def _status(settings: Settings, registrant_id: int) -> str:
    return str(_sql(settings, "SELECT status FROM registrants WHERE id = ?", registrant_id)[0][0])


def _names(page: str) -> list[str]:
    return re.findall(r'/registrants/\d+">([^<]+)</a>', page)


def test_search_folds_kana_width_and_case(client: TestClient, organiser: str, event: Event) -> None:
    """Hiragana finds katakana readings; full-width and upper-case e-mail and reference numbers match."""
    body = {"name": "髙橋 﨑子", "kana": "タカハシ サキコ", "email": "saki@example.jp", "mode": "venue"}
    person = client.post("/api/v1/events/sympo/registrations", json=body).json()["registrant"]
    register(client, event, 3)
    for query in ("たかはし", "髙橋", "ＳＡＫＩ＠", person["ref_no"].lower(), "ｻｷｺ"):
        assert _names(client.get(BASE, params={"q": query}).text) == ["髙橋 﨑子"], query
    assert _names(client.get(BASE, params={"q": "%"}).text) == []


def test_filters_by_mode_status_and_check_in(
    settings: Settings, client: TestClient, organiser: str, event: Event
) -> None:
    """Mode, status and checked-in filters combine with each other."""
    client.post("/admin/events/sympo/settings", data=settings_form(event, organiser, capacity="2"))
    venue = register(client, event, 3)
    online = register(client, event, 2, mode="online", start=10)
    _sql(
        settings,
        "INSERT INTO attendance (registrant_id, event_id, first_checked_in_at, first_kiosk, last_moved_at)"
        " VALUES (?, ?, ?, '受付1', ?)",
        venue[0]["id"],
        event.id,
        time.time(),
        time.time(),
    )
    assert _names(client.get(BASE, params={"mode": "online"}).text) == [p["name"] for p in online]
    assert _names(client.get(BASE, params={"status": "waitlisted"}).text) == [venue[2]["name"]]
    assert _names(client.get(BASE, params={"checked": "yes"}).text) == [venue[0]["name"]]
    assert len(_names(client.get(BASE, params={"checked": "no", "mode": "venue"}).text)) == 2
    page = client.get(f"{BASE}/{venue[0]['id']}").text
    assert "受付1" in page and "在場中" in page


def test_list_is_paginated_and_keeps_filters(client: TestClient, organiser: str, event: Event) -> None:
    """120 online registrants make 3 pages of 50; links keep the filters; past the end shows the last page."""
    services: Services = client.app.state.services  # type: ignore[attr-defined]
    services.limits.enabled = False  # 120 people from one test client: a rehearsal, not the limit's test
    register(client, event, 120, mode="online")
    first = client.get(BASE, params={"mode": "online"}).text
    assert len(_names(first)) == 50 and "120名（1/3ページ）" in first
    assert 'href="?mode=online&amp;page=2"' in first
    last = client.get(BASE, params={"mode": "online", "page": "99"}).text
    assert len(_names(last)) == 20 and "（3/3ページ）" in last


def test_reissue_asks_first_then_revokes_the_old_code(
    settings: Settings, client: TestClient, organiser: str, event: Event
) -> None:
    """GET shows a confirmation and changes nothing; POST makes a new code and revokes the old one."""
    (person,) = register(client, event, 1)
    url = f"{BASE}/{person['id']}/reissue"
    assert "参加証を再発行しますか" in client.get(url).text
    assert len(_codes(settings, person["id"])) == 1
    done = client.post(url, data={"csrf": organiser})
    assert "参加証を再発行しました" in done.text
    (old, old_reason), (new, new_reason) = _codes(settings, person["id"])
    assert old_reason == "reissued" and new_reason is None
    assert new in done.text and old not in done.text
    assert "ticket.reissue" in done.text


def test_cancel_revokes_and_promotes_the_first_waiting(
    settings: Settings, client: TestClient, organiser: str, event: Event
) -> None:
    """Cancelling a seat holder revokes the ticket and registers the first waiting person."""
    client.post("/admin/events/sympo/settings", data=settings_form(event, organiser, capacity="1"))
    holder, waiting = register(client, event, 2)
    assert "申込をキャンセルしますか" in client.get(f"{BASE}/{holder['id']}/cancel").text
    assert client.post(f"{BASE}/{holder['id']}/cancel").status_code == 403
    assert _status(settings, holder["id"]) == "registered"
    done = client.post(f"{BASE}/{holder['id']}/cancel", data={"csrf": organiser})
    assert "キャンセル待ちの1名が繰り上がりました" in done.text
    assert _status(settings, holder["id"]) == "cancelled"
    assert _codes(settings, holder["id"])[0][1] == "cancelled"
    assert _status(settings, waiting["id"]) == "registered" and len(_codes(settings, waiting["id"])) == 1
    assert client.post(f"{BASE}/{holder['id']}/reissue", data={"csrf": organiser}).status_code == 409


def test_edit_details_keeps_emails_unique(client: TestClient, organiser: str, event: Event) -> None:
    """Details can be changed; another registrant's e-mail (after folding) or bad fields are refused."""
    first, second = register(client, event, 2)
    assert second["email"] == "p1@example.jp"
    url = f"{BASE}/{first['id']}/edit"
    assert 'value="p0@example.jp"' in client.get(url).text
    form = {
        "csrf": organiser,
        "name": "山﨑 花子",
        "kana": "",
        "email": "hanako@example.jp",
        "organisation": "総務省",
        "mode": "venue",
    }
    saved = client.post(url, data=form)
    assert "申込者の情報を保存しました" in saved.text and "山﨑 花子" in saved.text
    taken = client.post(url, data={**form, "email": "Ｐ1@EXAMPLE.JP"})
    assert taken.status_code == 422 and "別の申込者が使っています" in taken.text
    listed = client.post(url, data={**form, "email": "hanako@example.jp, boss@example.jp"})
    assert listed.status_code == 422 and "1件だけ" in listed.text
    bad = client.post(url, data={**form, "email": "nope", "mode": "car", "name": "x" * 101})
    assert bad.status_code == 422
    assert all(m in bad.text for m in ("メールアドレスの形式", "選択肢から選んでください", "長すぎます"))


def test_mode_changes_keep_seats_right(settings: Settings, client: TestClient, organiser: str, event: Event) -> None:
    """To the venue only with a free seat; to online frees a seat for the waiting list; a waiting
    person moved online is registered at once."""
    client.post("/admin/events/sympo/settings", data=settings_form(event, organiser, capacity="1"))
    holder, waiting, other = register(client, event, 3)
    (viewer,) = register(client, event, 1, mode="online", start=9)

    def edit(person: dict[str, str], mode: str) -> int:
        form = {"csrf": organiser, "name": person["name"], "email": person["email"], "mode": mode}
        return client.post(f"{BASE}/{person['id']}/edit", data=form).status_code

    assert edit(viewer, "venue") == 409
    assert edit(holder, "online") == 200
    assert _status(settings, waiting["id"]) == "registered"
    assert edit(other, "online") == 200
    assert _status(settings, other["id"]) == "registered" and len(_codes(settings, other["id"])) == 1


def _mails(settings: Settings, kind: str) -> list[str]:
    """The plain-text bodies of the messages of one kind in the outbox."""
    texts = []
    for path in sorted(settings.smtp.outbox.glob(f"*-{kind}.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        body = message.get_body(("plain",))
        assert isinstance(body, email.message.EmailMessage)
        texts.append(body.get_content())
    return texts


def test_reissued_ticket_is_mailed_and_resend_is_limited(
    settings: Settings, client: TestClient, organiser: str, event: Event
) -> None:
    """A re-issue e-mails the new ticket; re-send sends it again once, then waits 10 minutes."""
    (person,) = register(client, event, 1)
    client.post(f"{BASE}/{person['id']}/reissue", data={"csrf": organiser})
    new_code = _codes(settings, person["id"])[-1][0]
    on_registration, mail = _mails(settings, "ticket")
    assert new_code in mail and new_code not in on_registration
    sent = client.post(f"{BASE}/{person['id']}/resend", data={"csrf": organiser})
    assert "参加証のメールを再送しました" in sent.text
    again = client.post(f"{BASE}/{person['id']}/resend", data={"csrf": organiser})
    assert "10分以内に再送済み" in again.text
    assert len(_mails(settings, "resend")) == 1
    assert "ticket.resend" in again.text


def test_promoted_people_are_mailed_and_waiting_people_have_nothing_to_resend(
    settings: Settings, client: TestClient, organiser: str, event: Event
) -> None:
    """A cancellation e-mails the person moved up; a waiting person has no ticket to re-send (409)."""
    client.post("/admin/events/sympo/settings", data=settings_form(event, organiser, capacity="1"))
    holder, waiting, last = register(client, event, 3)
    assert client.post(f"{BASE}/{last['id']}/resend", data={"csrf": organiser}).status_code == 409
    client.post(f"{BASE}/{holder['id']}/cancel", data={"csrf": organiser})
    (mail,) = _mails(settings, "promoted")
    assert _codes(settings, waiting["id"])[0][0] in mail
    form = {"csrf": organiser, "name": last["name"], "email": last["email"], "mode": "online"}
    client.post(f"{BASE}/{last['id']}/edit", data=form)
    assert _codes(settings, last["id"])[0][0] in _mails(settings, "ticket")[-1]


def test_a_ticket_mail_still_being_sent_does_not_break_the_registrant_page(
    settings: Settings, client: TestClient, organiser: str, event: Event
) -> None:
    """A claimed but not yet sent e-mail (sent_at NULL) is left out of the page, not formatted as a date."""
    (person,) = register(client, event, 1)
    _sql(
        settings,
        "INSERT INTO email_sends (ticket_id, registrant_id, kind, claimed_at)"
        " SELECT id, registrant_id, 'resend', ? FROM tickets WHERE registrant_id = ?",
        time.time(),
        person["id"],
    )
    page = client.get(f"{BASE}/{person['id']}")
    assert page.status_code == 200 and person["name"] in page.text

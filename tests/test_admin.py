"""The organisers' pages: who may open them, events and their settings, capacity rules, audit, junk."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from starlette.testclient import TestClient

from checkin.models import Event, Role
from checkin.settings import Settings
from tests.conftest import make_token, seed_event
from tests.utils import EVENT

pytestmark = pytest.mark.both_engines

PAGES = ["/admin", "/admin/events/sympo/registrants", "/admin/events/sympo/settings", "/admin/events/sympo/tokens",
         "/admin/events/sympo/audit", "/admin/events/new"]  # fmt: skip


def settings_form(event: Event, csrf: str, **changes: str) -> dict[str, str]:
    """The settings form as the page fills it in, with some fields changed."""
    values = {
        "csrf": csrf,
        "title": event.title,
        "starts_at": "2023-11-27T13:30",
        "ends_at": "2023-11-27T16:30",
        "capacity": str(event.capacity),
        "venue_name": event.venue_name,
        "registration_open": "on",
        "waitlist_enabled": "on",
    }
    return {**values, **changes}


def register(client: TestClient, event: Event, count: int, mode: str = "venue", start: int = 0) -> list[dict[str, str]]:
    """Register `count` people through the public API; their registrant records."""
    people = []
    for number in range(start, start + count):
        body = {"name": f"申込 {number}", "kana": "モウシコミ", "email": f"p{number}@example.jp", "mode": mode}
        response = client.post(f"/api/v1/events/{event.slug}/registrations", json=body)
        assert response.status_code == 201, response.text
        people.append(response.json()["registrant"])
    return people


@pytest.mark.parametrize("role", [Role.KIOSK, Role.DASHBOARD])
@pytest.mark.parametrize("path", PAGES)
def test_kiosk_and_dashboard_tokens_may_not_open_admin_pages(
    settings: Settings, event: Event, client: TestClient, role: Role, path: str
) -> None:
    """The admin is for organisers: kiosk and dashboard tokens get a 403 page, not the admin."""
    token = make_token(settings, event, role)
    response = client.get(path, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert "事務局のログインID" in response.text


def test_an_event_organiser_token_works_for_its_event_only(
    settings: Settings, event: Event, client: TestClient
) -> None:
    """An organiser token opens its event's pages (and posts without CSRF), but not other events'."""
    other = seed_event(settings, replace(EVENT, slug="other"))
    headers = {"Authorization": f"Bearer {make_token(settings, event, Role.ORGANISER)}"}
    assert client.get("/admin/events/sympo/settings", headers=headers).status_code == 200
    assert client.get(f"/admin/events/{other.slug}/settings", headers=headers).status_code == 403
    assert client.get("/admin/events/new", headers=headers).status_code == 403
    listing = client.get("/admin", headers=headers).text
    assert "/admin/events/sympo/" in listing and "/admin/events/other/" not in listing
    posted = client.post("/admin/events/sympo/settings", data=settings_form(event, "", capacity="60"), headers=headers)
    assert posted.status_code == 200
    assert "設定を保存しました" in posted.text


def test_create_event_from_the_admin(client: TestClient, organiser: str) -> None:
    """A valid form creates the event; a bad one re-renders with Japanese messages; a taken slug is said so."""
    form = settings_form(EVENT, organiser, slug="forum2024", title="フォーラム")
    bad = client.post("/admin/events/new", data={**form, "capacity": "たくさん", "slug": "x"})
    assert bad.status_code == 422
    assert "0以上の整数を半角数字で入力してください" in bad.text and "英小文字・数字・ハイフンで" in bad.text
    assert 'value="フォーラム"' in bad.text
    created = client.post("/admin/events/new", data=form)
    assert created.status_code == 200 and "イベントを作成しました" in created.text
    assert "/admin/events/forum2024/" in client.get("/admin").text
    assert client.post("/admin/events/new", data=form).status_code == 409


def test_settings_are_saved_and_audited(client: TestClient, organiser: str, event: Event) -> None:
    """Saving changes the event (registration closed here) and the audit log names the organiser."""
    form = settings_form(event, organiser, title="新しい名前", map_url="https://maps.example/x")
    del form["registration_open"]
    assert client.post("/admin/events/sympo/settings", data=form).status_code == 200
    page = client.get("/admin/events/sympo/settings").text
    assert 'value="新しい名前"' in page and 'name="registration_open" type="checkbox" checked' not in page
    closed = client.post(
        "/api/v1/events/sympo/registrations",
        json={"name": "a", "kana": "ア", "email": "a@example.jp", "mode": "venue"},
    )
    assert closed.json()["error"] == "registration_closed"
    audit = client.get("/admin/events/sympo/audit").text
    assert "user:jimukyoku" in audit and "event.update" in audit


def test_hall_capacity_is_edited_apart_from_the_registration_capacity(
    client: TestClient, organiser: str, event: Event
) -> None:
    """The settings form keeps a hall capacity (会場定員) of its own; blank means the registration capacity."""
    assert "会場定員" in client.get("/admin/events/sympo/settings").text
    form = settings_form(event, organiser, hall_capacity="80")
    assert client.post("/admin/events/sympo/settings", data=form).status_code == 200
    assert 'name="hall_capacity" type="number" value="80"' in client.get("/admin/events/sympo/settings").text
    bad = client.post("/admin/events/sympo/settings", data=settings_form(event, organiser, hall_capacity="-3"))
    assert bad.status_code == 422
    assert client.post("/admin/events/sympo/settings", data=settings_form(event, organiser)).status_code == 200
    assert 'name="hall_capacity" type="number" value=""' in client.get("/admin/events/sympo/settings").text


def test_bad_settings_show_japanese_errors_and_change_nothing(client: TestClient, organiser: str, event: Event) -> None:
    """Junk dates, negative capacity and huge fields re-render the form (422) and leave the event as it was."""
    form = settings_form(event, organiser, starts_at="明日", capacity="-1", title="x" * 5000)
    response = client.post("/admin/events/sympo/settings", data=form)
    assert response.status_code == 422
    for message in ("日時の形式が正しくありません", "0以上の整数", "長すぎます"):
        assert message in response.text
    assert 'aria-invalid="true"' in response.text
    assert f'value="{event.title}"' in client.get("/admin/events/sympo/settings").text


def test_capacity_below_seats_taken_is_refused(client: TestClient, organiser: str, event: Event) -> None:
    """With 3 seats taken, capacity 2 is refused with the number; capacity 3 is accepted."""
    register(client, event, 3)
    refused = client.post("/admin/events/sympo/settings", data=settings_form(event, organiser, capacity="2"))
    assert refused.status_code == 409
    assert "すでに3名が会場参加で申込済み" in refused.text
    accepted = client.post("/admin/events/sympo/settings", data=settings_form(event, organiser, capacity="3"))
    assert accepted.status_code == 200


def test_raising_capacity_moves_waiting_people_up(client: TestClient, organiser: str, event: Event) -> None:
    """At capacity 2 with 2 waiting, capacity 3 registers the first waiting person, with a ticket."""
    client.post("/admin/events/sympo/settings", data=settings_form(event, organiser, capacity="2"))
    people = register(client, event, 4)
    assert [p["status"] for p in people] == ["registered", "registered", "waitlisted", "waitlisted"]
    raised = client.post("/admin/events/sympo/settings", data=settings_form(event, organiser, capacity="3"))
    assert "キャンセル待ちの1名が繰り上がりました" in raised.text
    first_waiting = client.get(f"/admin/events/sympo/registrants/{people[2]['id']}").text
    assert "申込済み" in first_waiting and "/t/CK1-" in first_waiting
    assert "キャンセル待ち" in client.get(f"/admin/events/sympo/registrants/{people[3]['id']}").text


def test_forms_without_the_csrf_token_get_a_403_page(client: TestClient, organiser: str, event: Event) -> None:
    """A form post without (or with a wrong) CSRF token is a 403 page, and nothing changes."""
    for token in ("", "forged"):
        response = client.post("/admin/events/sympo/settings", data=settings_form(event, token, capacity="1"))
        assert response.status_code == 403
        assert "画面の有効期限が切れたか" in response.text
    assert 'value="50"' in client.get("/admin/events/sympo/settings").text


def test_junk_requests_never_give_a_500(settings: Settings, client: TestClient, organiser: str) -> None:
    """Oversized bodies, broken multipart, unknown events and registrants: 4xx pages, never a 500."""
    huge = {"csrf": organiser, "title": "x" * (settings.max_body_bytes + 10)}
    assert client.post("/admin/events/sympo/settings", data=huge).status_code == 413
    broken = client.post(
        "/admin/events/sympo/settings",
        content=b"--zz\r\nnonsense",
        headers={"content-type": "multipart/form-data", "x-csrf-token": organiser},
    )
    assert broken.status_code == 400
    assert client.get("/admin/events/nope/settings").status_code == 404
    assert client.get("/admin/events/sympo/registrants/999").status_code == 404
    assert client.get("/admin/events/sympo/registrants/abc").status_code == 404
    assert client.get("/admin/events/sympo/registrants?page=-3&mode=car&checked=maybe").status_code == 200


def test_audit_page_lists_the_latest_entries(client: TestClient, organiser: str, event: Event) -> None:
    """The audit page shows the event's entries, newest first, each action in words."""
    register(client, event, 2)
    page = client.get("/admin/events/sympo/audit").text
    rows = re.findall(r'<td data-action="registrant\.create">申込を登録</td><td>(W\d+)</td>', page)
    assert rows == sorted(rows, reverse=True) and len(rows) == 2

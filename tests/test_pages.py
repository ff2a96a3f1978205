"""Public pages: the registration form end to end, the ticket page, its QR image, calendar file and cancel."""

from __future__ import annotations

import email
import email.utils
import io
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from urllib.parse import urlsplit

import icalendar
import pytest
import zxingcpp
from PIL import Image
from starlette.testclient import TestClient

from checkin import tickets
from checkin.app import create_app
from checkin.models import Event, Mode, Registrant, Status
from checkin.services import Services
from checkin.settings import Settings
from checkin.storage import registrants as store
from tests.conftest import seed_event
from tests.utils import EVENT

FORM = {
    "name": "髙橋 﨑子",
    "kana": "タカハシ サキコ",
    "email": "saki@example.jp",
    "organisation": "総務省",
    "mode": "venue",
    "consent": "yes",
}


def svc(client: TestClient) -> Services:
    services: Services = client.app.state.services  # type: ignore[attr-defined]
    return services


def registrants(client: TestClient, event: Event) -> list[Registrant]:
    return svc(client).db.read_sync(store.list_registrants, event.id)


def register(client: TestClient, slug: str = "sympo", **changes: str) -> str:
    """Post the form; return the Location of the 303."""
    response = client.post(f"/e/{slug}/", data={**FORM, **changes}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return response.headers["location"]


def code_of(location: str) -> str:
    assert location.startswith("/t/")
    return location.removeprefix("/t/").split("?", 1)[0]


@pytest.fixture
def small(settings: Settings) -> Iterator[tuple[TestClient, Event]]:
    """A client on an event with one seat in the hall."""
    event = seed_event(settings, replace(EVENT, slug="small", capacity=1))
    with TestClient(create_app(settings)) as client:
        yield client, event


def error_fields(html: str) -> set[str]:
    """The fields that carry an error message next to them."""
    return set(re.findall(r'id="f-([a-z]+)-error"', html))


def test_event_page_shows_event_seats_and_labelled_form(client: TestClient, event: Event) -> None:
    """The page names the event, its JST time, venue with map link, seats left, and a labelled form."""
    response = client.get(f"/e/{event.slug}/")
    assert response.status_code == 200
    html = response.text
    assert '<html lang="ja">' in html
    assert event.title in html and event.venue_name in html
    assert "2023年11月27日(月) 13:30〜16:30" in html
    assert 'href="https://www.openstreetmap.org/search?query=' in html
    assert "50席" in html
    for name in ("name", "kana", "email", "organisation"):
        assert f'<label for="f-{name}">' in html and f'id="f-{name}" name="{name}"' in html
    assert 'for="f-consent"' in html and 'id="consent-purpose"' in html
    assert html.count('class="badge required"') == 5
    assert response.headers["cache-control"] == "no-store"


def test_map_link_is_the_organisers_web_link_only(settings: Settings) -> None:
    """A map URL set by the organisers is used when it is a web link; anything else falls back to a search."""
    event = seed_event(settings, replace(EVENT, map_url="javascript:alert(1)"))
    other = seed_event(settings, replace(EVENT, slug="other", map_url="https://maps.example/hall"))
    with TestClient(create_app(settings)) as client:
        assert "javascript:" not in client.get(f"/e/{event.slug}/").text
        assert 'href="https://maps.example/hall"' in client.get(f"/e/{other.slug}/").text


def test_english_is_available_with_lang_query(client: TestClient, event: Event) -> None:
    """?lang=en gives the page in English, with lang attributes for Japanese parts."""
    html = client.get(f"/e/{event.slug}/?lang=en").text
    assert '<html lang="en">' in html
    assert "Registration form" in html and 'action="/e/sympo/?lang=en"' in html
    assert f'<h1 lang="ja">{event.title}</h1>' in html


def test_hiragana_reading_is_stored_in_katakana_as_the_hint_says(client: TestClient, event: Event) -> None:
    """The hint says hiragana becomes katakana (in both languages), and the stored reading is katakana."""
    assert "ひらがなで入力してもカタカナで登録します" in client.get(f"/e/{event.slug}/").text
    assert "hiragana is accepted and stored in katakana" in client.get(f"/e/{event.slug}/?lang=en").text
    register(client, kana="たかはし さきこ")
    assert [person.kana for person in registrants(client, event)] == ["タカハシ サキコ"]


def test_valid_form_redirects_to_the_ticket(client: TestClient, event: Event) -> None:
    """A valid submission is stored and answered 303 to the ticket page, which greets the person."""
    location = register(client)
    (person,) = registrants(client, event)
    assert person.status is Status.REGISTERED and person.name == FORM["name"]
    page = client.get(location)
    assert page.status_code == 200
    assert "髙橋 﨑子 様" in page.text and code_of(location) in page.text


def test_errors_rerender_with_messages_values_and_aria(client: TestClient, event: Event) -> None:
    """Bad fields re-render the form: per-field messages, a focused summary, aria wiring, values kept."""
    response = client.post(f"/e/{event.slug}/", data={"name": "", "kana": "yamada", "email": "nope"})
    assert response.status_code == 422
    html = response.text
    assert error_fields(html) == {"name", "kana", "email", "mode", "consent"}
    assert 'id="error-summary" role="alert"' in html and "autofocus" in html
    assert 'aria-describedby="f-email-hint f-email-error" aria-invalid="true"' in html
    assert 'value="nope"' in html and 'value="yamada"' in html
    assert "<title>エラー：" in html
    assert registrants(client, event) == []


def test_consent_is_required(client: TestClient, event: Event) -> None:
    """Everything right but no consent: refused, only the consent error, nothing stored."""
    response = client.post(f"/e/{event.slug}/", data={**FORM, "consent": ""})
    assert response.status_code == 422
    assert error_fields(response.text) == {"consent"}
    assert registrants(client, event) == []


def test_duplicate_email_offers_to_resend_the_ticket(client: TestClient, event: Event) -> None:
    """A second registration with the same address after folding is 409 with a resend form."""
    register(client)
    response = client.post(f"/e/{event.slug}/", data={**FORM, "email": "ＳＡＫＩ＠EXAMPLE.JP"})
    assert response.status_code == 409
    assert error_fields(response.text) == {"email"}
    assert 'action="/e/sympo/resend"' in response.text
    assert 'type="hidden" name="email" value="ＳＡＫＩ＠EXAMPLE.JP"' in response.text
    assert len(registrants(client, event)) == 1


def test_full_hall_offers_online_and_waiting_list(small: tuple[TestClient, Event]) -> None:
    """When the hall is full the page says so, offers online or the waiting list, and waitlists on request."""
    client, event = small
    register(client, event.slug)
    html = client.get(f"/e/{event.slug}/").text
    assert "会場は満席になりました" in html
    assert 'value="online"' in html and 'value="waitlist"' in html and 'value="venue"' not in html
    assert register(client, event.slug, email="wait@example.jp", mode="waitlist") == f"/e/{event.slug}/waitlisted"
    waiting = [r for r in registrants(client, event) if r.status is Status.WAITLISTED]
    assert [r.email for r in waiting] == ["wait@example.jp"]
    notice = client.get(f"/e/{event.slug}/waitlisted")
    assert notice.status_code == 200 and "お申し込みを受け付けました（キャンセル待ち）" in notice.text
    online = register(client, event.slug, email="on@example.jp", mode="online")
    assert online.startswith("/t/")


def test_venue_choice_on_a_hall_that_just_filled_is_not_waitlisted_unasked(small: tuple[TestClient, Event]) -> None:
    """A venue application posted after the last seat went is told the hall is full (409), not queued."""
    client, event = small
    register(client, event.slug)
    response = client.post(f"/e/{event.slug}/", data={**FORM, "email": "late@example.jp"})
    assert response.status_code == 409
    assert error_fields(response.text) == {"mode"}
    assert len(registrants(client, event)) == 1


def test_full_hall_without_waiting_list_offers_online_only(settings: Settings) -> None:
    """With the waiting list off, a full hall leaves online participation as the only choice."""
    event = seed_event(settings, replace(EVENT, capacity=0, waitlist_enabled=False))
    with TestClient(create_app(settings)) as client:
        html = client.get(f"/e/{event.slug}/").text
        assert "オンライン参加でお申し込みいただけます" in html
        assert 'value="online"' in html and 'value="waitlist"' not in html and 'value="venue"' not in html
        response = client.post(f"/e/{event.slug}/", data={**FORM, "mode": "waitlist"})
        assert response.status_code == 409 and error_fields(response.text) == {"mode"}


def test_closed_registration_shows_no_form(settings: Settings) -> None:
    """Closed registration: the page says so and has no form; a post is refused and stores nothing."""
    event = seed_event(settings, replace(EVENT, registration_open=False))
    with TestClient(create_app(settings)) as client:
        page = client.get(f"/e/{event.slug}/")
        assert page.status_code == 200
        assert "申込受付は終了しました" in page.text and "<form" not in page.text
        response = client.post(f"/e/{event.slug}/", data=FORM)
        assert response.status_code == 409 and "<form" not in response.text
        assert registrants(client, event) == []


def test_unknown_event_is_a_404_page(client: TestClient) -> None:
    """An unknown slug is a Japanese 404 page, for the page and for a post."""
    for response in (client.get("/e/nope/"), client.post("/e/nope/", data=FORM)):
        assert response.status_code == 404
        assert "イベントが見つかりません" in response.text


def test_oversized_or_stuffed_form_is_refused_without_500(client: TestClient, event: Event) -> None:
    """A body past the limit is 413, a body with too many fields 400: pages, not tracebacks."""
    huge = client.post(f"/e/{event.slug}/", data={**FORM, "organisation": "x" * 100_000})
    assert huge.status_code == 413 and "<html" in huge.text
    stuffed = client.post(f"/e/{event.slug}/", content=b"&".join(b"a=%d" % n for n in range(50)))
    assert stuffed.status_code == 400
    assert registrants(client, event) == []


def test_ticket_page_content_and_private_headers(client: TestClient, event: Event) -> None:
    """The ticket shows who, what, when, where, mode, QR and code; it is never cached or indexed."""
    code = code_of(register(client))
    response = client.get(f"/t/{code}")
    assert response.status_code == 200
    headers = response.headers
    assert headers["cache-control"] == "private, no-store"
    assert headers["referrer-policy"] == "no-referrer" and "noindex" in headers["x-robots-tag"]
    html = response.text
    assert '<meta name="robots" content="noindex, nofollow">' in html
    assert "髙橋 﨑子 様" in html and event.title in html and event.venue_name in html
    assert "13:30〜16:30" in html and "openstreetmap.org" in html and "会場参加" in html
    assert f'<img src="/t/{code}.png"' in html and f'<code class="code">{code}</code>' in html
    assert f'href="/t/{code}.ics"' in html and f'href="/t/{code}/cancel"' in html
    assert "/w/" not in html


def test_online_ticket_carries_the_personal_watch_link(client: TestClient) -> None:
    """An online registrant's ticket links to their own watch page /w/{code}."""
    code = code_of(register(client, mode="online"))
    html = client.get(f"/t/{code}").text
    assert f'href="/w/{code}"' in html and "オンライン参加" in html


def test_unknown_and_forged_codes_are_404_and_reveal_nothing(client: TestClient) -> None:
    """Well-formed but unknown, garbage and huge codes: a 404 page that is not cached, for every route."""
    register(client)
    for code in (tickets.new_code("sympo"), "hello", "A" * 500):
        for suffix in ("", ".png", ".ics", "/cancel"):
            response = client.get(f"/t/{code}{suffix}")
            assert response.status_code == 404
            assert "no-store" in response.headers["cache-control"]
            assert "様" not in response.text
    assert client.post(f"/t/{tickets.new_code('sympo')}/cancel").status_code == 404


def test_reissued_code_is_410_and_its_image_404(client: TestClient, event: Event) -> None:
    """After a re-issue the old code's page says it is no longer valid (410) and its PNG is gone."""
    old = code_of(register(client))
    (person,) = registrants(client, event)
    new = svc(client).db.write_sync(store.reissue_ticket, event, person.id, time.time(), "test").code
    response = client.get(f"/t/{old}")
    assert response.status_code == 410 and "この参加証は無効です" in response.text
    assert "様" not in response.text
    assert client.get(f"/t/{old}.png").status_code == 404
    assert client.get(f"/t/{new}").status_code == 200


def test_png_is_the_code_rendered_once(client: TestClient) -> None:
    """The PNG decodes back to the ticket code, is cached privately, and is rendered only once."""
    code = code_of(register(client))
    first = client.get(f"/t/{code}.png")
    assert first.status_code == 200 and first.headers["content-type"] == "image/png"
    assert first.headers["cache-control"].startswith("private")
    (found,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(first.content)))
    assert found.text == code
    assert client.get(f"/t/{code.lower()}.png").content == first.content
    assert svc(client).qr.renders == 1


def unfold(text: str) -> list[tuple[str, str]]:
    """The content lines of an iCalendar text (RFC 5545: CRLF, folded lines joined) as (name, value)."""
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    lines = text.replace("\r\n ", "").split("\r\n")[:-1]
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    return [(name, value) for name, _, value in (line.partition(":") for line in lines)]


def test_ics_is_a_calendar_of_the_event(client: TestClient, event: Event) -> None:
    """The .ics file parses and holds the event's UTC times, title, place and the ticket URL."""
    code = code_of(register(client))
    response = client.get(f"/t/{code}.ics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    assert "attachment" in response.headers["content-disposition"]
    lines = unfold(response.text)
    assert [value for name, value in lines if name in {"BEGIN", "END"}] == [
        "VCALENDAR",
        "VEVENT",
        "VEVENT",
        "VCALENDAR",
    ]
    props = dict(lines)
    assert props["DTSTART"] == "20231127T043000Z" and props["DTEND"] == "20231127T073000Z"
    assert props["SUMMARY"] == event.title
    assert event.venue_name in props["LOCATION"]
    assert props["URL"].endswith(f"/t/{code}")


def test_cancel_asks_first_then_promotes_the_first_waiting(small: tuple[TestClient, Event], settings: Settings) -> None:
    """Cancelling takes a confirmation and a POST; the ticket dies and the first waiting person gets the seat
    and an e-mail with their new ticket."""
    client, event = small
    code = code_of(register(client, event.slug))
    register(client, event.slug, email="first@example.jp", mode="waitlist")
    register(client, event.slug, email="second@example.jp", mode="waitlist")
    confirm = client.get(f"/t/{code}/cancel")
    assert confirm.status_code == 200 and f'action="/t/{code}/cancel"' in confirm.text
    assert client.get(f"/t/{code}").status_code == 200  # looking at the question changes nothing
    response = client.post(f"/t/{code}/cancel", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/e/{event.slug}/cancelled"
    assert client.get(response.headers["location"]).status_code == 200
    assert client.get(f"/t/{code}").status_code == 410
    assert client.post(f"/t/{code}/cancel").status_code == 410
    status = {r.email: r.status for r in registrants(client, event)}
    assert status == {
        FORM["email"]: Status.CANCELLED,
        "first@example.jp": Status.REGISTERED,
        "second@example.jp": Status.WAITLISTED,
    }
    promoted = next(r for r in registrants(client, event) if r.email == "first@example.jp")
    ticket = svc(client).db.read_sync(store.current_ticket, promoted.id)
    assert ticket is not None and promoted.mode is Mode.VENUE
    assert client.get(f"/t/{ticket.code}").status_code == 200
    mails = [email.message_from_bytes(path.read_bytes()) for path in settings.smtp.outbox.glob("*-promoted.eml")]
    assert [email.utils.parseaddr(mail["To"])[1] for mail in mails] == ["first@example.jp"]
    plain = next(part for part in mails[0].walk() if part.get_content_type() == "text/plain")
    assert ticket.code in plain.get_payload(decode=True).decode()


def test_ics_of_the_page_and_of_the_e_mail_are_one_calendar_entry(
    client: TestClient, event: Event, settings: Settings
) -> None:
    """Both .ics files carry one UID (at the base URL's host, nothing personal in it): one entry, not two."""
    code = code_of(register(client))
    (mail,) = [email.message_from_bytes(path.read_bytes()) for path in settings.smtp.outbox.glob("*.eml")]
    attached = next(part for part in mail.walk() if part.get_content_type() == "text/calendar")
    from_mail = icalendar.Calendar.from_ical(attached.get_payload(decode=True))
    from_page = icalendar.Calendar.from_ical(client.get(f"/t/{code}.ics").content)
    (mailed,) = from_mail.walk("VEVENT")
    (paged,) = from_page.walk("VEVENT")
    uid = str(paged["UID"])
    assert str(mailed["UID"]) == uid
    assert uid.endswith(f"@{urlsplit(settings.base_url).hostname}")
    assert code not in uid and "saki" not in uid and str(event.slug) not in uid
    assert paged.decoded("DTSTART") == mailed.decoded("DTSTART")


def test_registering_on_the_form_e_mails_the_ticket(client: TestClient, event: Event, settings: Settings) -> None:
    """A registration from the form sends the ticket to the address given, once."""
    code = code_of(register(client))
    mails = [email.message_from_bytes(path.read_bytes()) for path in settings.smtp.outbox.glob("*.eml")]
    assert [email.utils.parseaddr(mail["To"])[1] for mail in mails] == [FORM["email"]]
    plain = next(part for part in mails[0].walk() if part.get_content_type() == "text/plain")
    assert code in plain.get_payload(decode=True).decode()

"""Scripted and crafted registrations: one address per e-mail field, limits per client address, and the
organisers' view of registrations per address."""

from __future__ import annotations

import logging
import re
import sqlite3
from dataclasses import replace

import httpx
import pytest
from starlette.testclient import TestClient

from checkin.app import create_app
from checkin.models import Event
from checkin.settings import Settings
from tests.conftest import seed_event
from tests.test_pages import FORM
from tests.utils import EVENT, run_server

PERSON = {"name": "髙橋 﨑子", "kana": "タカハシ サキコ", "email": "saki@example.jp", "mode": "venue"}


def _api(event: Event) -> str:
    return f"/api/v1/events/{event.slug}/registrations"


def _person(number: int) -> dict[str, str]:
    return dict(PERSON, email=f"p{number}@example.jp")


def _from(client: TestClient, address: str) -> TestClient:
    """Another client address on the same running server."""
    return TestClient(client.app, client=(address, 50000))


def _stored(settings: Settings) -> list[tuple[str, str | None]]:
    with sqlite3.connect(settings.db_path) as conn:
        return conn.execute("SELECT email, client_address FROM registrants ORDER BY id").fetchall()


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("me@example.com,postmaster", "one_address"),
        ("me@example.com, you@example.com", "one_address"),
        ("me@example.com postmaster@example.com", "one_address"),
        ("Me <me@example.com>", "one_address"),
        ("me@example.com;you@example.com", "one_address"),
        ("me@@example.com", "format"),
        ("me@localhost", "format"),
        ('"me,you"@example.com', "one_address"),
        ('"me"@example.com', "format"),
    ],
)
def test_an_e_mail_field_holds_one_address(client: TestClient, event: Event, typed: str, code: str) -> None:
    """Lists, display names and quoted local parts are refused (422) before anything is stored or sent."""
    response = client.post(_api(event), json=dict(PERSON, email=typed))
    assert (response.status_code, response.json()["fields"]) == (422, {"email": code})


def test_the_form_names_the_one_address_rule_in_japanese(client: TestClient, event: Event) -> None:
    """The form shows its Japanese message by the field, keeps what was typed, registers nobody."""
    page = client.post(f"/e/{event.slug}/", data=dict(FORM, email="me@example.com,postmaster"))
    assert page.status_code == 422
    assert "メールアドレスは1件だけ入力してください" in page.text and 'value="me@example.com,postmaster"' in page.text


def test_addresses_are_stored_normalised_and_still_folded_for_duplicates(
    client: TestClient, event: Event, settings: Settings
) -> None:
    """Full-width input and upper-case domains are stored normalised; an IDN domain is accepted, and its
    punycode spelling, like any case or width variant, is the same person (409)."""
    wide = client.post(_api(event), json=dict(PERSON, email="ｔａｒｏ＠Ｅｘａｍｐｌｅ．ＪＰ"))
    idn = client.post(_api(event), json=dict(PERSON, email="Hanako@日本語.jp"))
    assert (wide.status_code, idn.status_code) == (201, 201)
    assert [email for email, _ in _stored(settings)] == ["taro@example.jp", "Hanako@日本語.jp"]
    for again in ("TARO@example.jp", "hanako@xn--wgv71a119e.jp"):
        response = client.post(_api(event), json=dict(PERSON, email=again))
        assert (response.status_code, response.json()["error"]) == (409, "duplicate_email")


def test_resend_takes_one_address_only(client: TestClient, event: Event) -> None:
    """The re-send form and API refuse an address list like the registration does."""
    bad = {"email": "saki@example.jp,postmaster"}
    assert client.post(f"/api/v1/events/{event.slug}/resend", json=bad).status_code == 422
    assert client.post(f"/e/{event.slug}/resend", data=bad).status_code == 422


def test_registrations_per_address_are_limited_for_form_and_api_together(
    client: TestClient, event: Event, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """30 a minute from one address (form and API share it): then 429 rate_limited with Retry-After,
    nothing stored nor sent; another address still registers; the refusal is logged without personal data."""
    with caplog.at_level(logging.WARNING, logger="checkin.limits"):
        for number in range(20):
            assert client.post(_api(event), json=_person(number)).status_code == 201
        for number in range(20, 30):
            form = dict(FORM, email=f"p{number}@example.jp")
            assert client.post(f"/e/{event.slug}/", data=form, follow_redirects=False).status_code == 303
        refused = client.post(_api(event), json=_person(30))
    assert refused.status_code == 429 and refused.json()["error"] == "rate_limited"
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert len(_stored(settings)) == 30
    assert _from(client, "198.51.100.20").post(_api(event), json=_person(31)).status_code == 201
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "rate limit register reached by testclient" in logged and "@" not in logged


def test_a_refused_form_asks_to_wait_in_japanese_and_keeps_the_values(client: TestClient, event: Event) -> None:
    """The 31st form post: a 429 page that says how long to wait (English with ?lang=en), values kept."""
    for number in range(30):
        assert client.post(_api(event), json=_person(number)).status_code == 201
    page = client.post(f"/e/{event.slug}/", data=dict(FORM, email="late@example.jp"))
    assert page.status_code == 429 and int(page.headers["Retry-After"]) > 0
    assert "秒ほど待ってから" in page.text and 'value="late@example.jp"' in page.text
    english = client.post(f"/e/{event.slug}/?lang=en", data=dict(FORM, email="late@example.jp"))
    assert english.status_code == 429 and "wait about" in english.text


def test_resend_is_limited_per_address(client: TestClient, event: Event) -> None:
    """5 re-send requests a minute per address (form and API share it), then 429 with a wait."""
    url = f"/api/v1/events/{event.slug}/resend"
    statuses = [client.post(url, json={"email": f"p{n}@example.jp"}).status_code for n in range(5)]
    page = client.post(f"/e/{event.slug}/resend", data={"email": "p9@example.jp"})
    assert statuses == [202] * 5
    assert page.status_code == 429 and "秒ほど待ってから" in page.text and "Retry-After" in page.headers
    assert client.post(url, json={"email": "p9@example.jp"}).json()["error"] == "rate_limited"


def test_search_is_limited_per_token(client: TestClient, event: Event, settings: Settings) -> None:
    """120 searches a minute per staff token; another kiosk's token keeps searching."""
    from checkin.models import Role
    from tests.conftest import make_token

    first, second = (make_token(settings, event, Role.KIOSK, name) for name in ("受付1", "受付2"))
    url = f"/api/v1/events/{event.slug}/registrants"

    def search(token: str) -> int:
        return client.get(url, params={"q": "山"}, headers={"Authorization": f"Bearer {token}"}).status_code

    assert {search(first) for _ in range(120)} == {200}
    assert (search(first), search(second)) == (429, 200)


def test_the_switch_lets_a_rehearsal_register_from_one_address(settings: Settings) -> None:
    """CHECKIN_RATE_LIMITS=off: 40 registrations from one address all go through (validation still holds)."""
    event = seed_event(settings)
    with TestClient(create_app(replace(settings, rate_limits=False))) as client:
        assert {client.post(_api(event), json=_person(n)).status_code for n in range(40)} == {201}
        assert client.post(_api(event), json=dict(PERSON, email="a@b.jp,c@d.jp")).status_code == 422


def test_organisers_see_registrations_per_address(client: TestClient, event: Event, settings: Settings) -> None:
    """Web registrations keep their client address; the admin lists addresses with counts and span, each
    linking to its registrants; imported ones have none."""
    from tests.conftest import log_in, make_user

    burst = _from(client, "203.0.113.50")
    for number in range(3):
        assert burst.post(_api(event), json=_person(number)).status_code == 201
    assert _from(client, "198.51.100.4").post(_api(event), json=_person(9)).status_code == 201
    assert [address for _, address in _stored(settings)] == ["203.0.113.50"] * 3 + ["198.51.100.4"]
    make_user(settings)
    log_in(client)
    page = client.get(f"/admin/events/{event.slug}/addresses").text
    assert page.index("203.0.113.50") < page.index("198.51.100.4")
    assert re.search(r'<td class="num">3</td>\s*<td class="num">3</td>', page) and "秒" in page  # count, live, span
    link = f"/admin/events/{event.slug}/registrants?address=203.0.113.50"
    assert link in page
    listed = client.get(link).text
    assert "3名" in listed and "p9@example.jp" not in listed


def test_a_live_server_counts_each_forwarded_client_by_its_own_address(settings: Settings) -> None:
    """Behind a trusted proxy, the limit and the stored address are the forwarded client's."""
    event = seed_event(settings, replace(EVENT, capacity=100))
    proxied = replace(settings, trusted_proxies=("127.0.0.1",))
    with run_server(proxied) as server, httpx.Client(base_url=server.url) as http:
        one = {"X-Forwarded-For": "203.0.113.77"}
        statuses = [http.post(_api(event), json=_person(n), headers=one).status_code for n in range(31)]
        other = http.post(_api(event), json=_person(40), headers={"X-Forwarded-For": "198.51.100.3"})
    assert statuses == [201] * 30 + [429] and other.status_code == 201
    assert {address for _, address in _stored(settings)} == {"203.0.113.77", "198.51.100.3"}


def test_services_hold_the_limits(settings: Settings) -> None:
    """The limits live in Services with the switch from the settings (not created lazily per request)."""
    from checkin.services import build

    assert build(settings).limits.enabled and not build(replace(settings, rate_limits=False)).limits.enabled

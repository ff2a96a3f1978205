"""Organisers' login: the session cookie, wrong passwords, limits per address and login, CSRF, logout and expiry."""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import replace

import pytest
from argon2 import PasswordHasher
from starlette.testclient import TestClient

from checkin import staff
from checkin.app import create_app
from checkin.models import Event
from checkin.services import build
from checkin.settings import Settings
from tests.conftest import ORGANISER, log_in, make_user


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def timed(settings: Settings, event: Event, clock: Clock) -> Iterator[TestClient]:
    """A client of a server whose clock the test controls, with an organiser login."""
    make_user(settings)
    services = build(settings)
    services.clock = clock
    with TestClient(create_app(settings, services)) as client:
        yield client


def _form_token(client: TestClient, path: str = "/admin/login") -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
    assert found is not None
    return found.group(1)


def _try(client: TestClient, password: str, login: str = ORGANISER[0], follow: bool = True) -> int:
    data = {"login": login, "password": password, "csrf": _form_token(client)}
    return client.post("/admin/login", data=data, follow_redirects=follow).status_code


def test_strangers_are_sent_to_the_login_page(client: TestClient, event: Event) -> None:
    """An admin page without a login redirects to the login page, which leads back to it."""
    response = client.get(f"/admin/events/{event.slug}/settings", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/admin/login?next=%2Fadmin%2Fevents%2F{event.slug}%2Fsettings"
    assert "事務局ログイン" in client.get(response.headers["location"]).text


def test_login_opens_a_session_whose_id_is_stored_hashed(settings: Settings, client: TestClient) -> None:
    """A good password sets an HttpOnly, SameSite=Lax session cookie; the database keeps only its hash."""
    make_user(settings)
    data = {"login": "ＪＩＭＵＫＹＯＫＵ", "password": ORGANISER[1], "csrf": _form_token(client), "next": "/admin"}
    response = client.post("/admin/login", data=data, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/admin"
    cookie = next(v for v in response.headers.get_list("set-cookie") if v.startswith("checkin_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie and "Secure" not in cookie
    session_id = cookie.split(";")[0].split("=", 1)[1]
    with sqlite3.connect(settings.db_path) as conn:
        stored = [row[0] for row in conn.execute("SELECT id_hash FROM sessions")]
    assert stored == [hashlib.sha256(session_id.encode()).hexdigest()]
    assert client.get("/admin").status_code == 200


def test_session_cookie_is_secure_when_configured(settings: Settings, event: Event) -> None:
    """With secure_cookies on, the session cookie is marked Secure."""
    secure = replace(settings, secure_cookies=True)
    make_user(secure)
    with TestClient(create_app(secure), base_url="https://testserver") as client:
        data = {"login": ORGANISER[0], "password": ORGANISER[1], "csrf": _form_token(client)}
        response = client.post("/admin/login", data=data, follow_redirects=False)
    cookie = next(v for v in response.headers.get_list("set-cookie") if v.startswith("checkin_session="))
    assert "Secure" in cookie


def test_wrong_password_or_unknown_login_is_refused_alike(settings: Settings, client: TestClient) -> None:
    """A wrong password and an unknown login both give 401 and the same message; no session."""
    make_user(settings)
    assert _try(client, "wrong password!") == 401
    assert _try(client, ORGANISER[1], login="nobody") == 401
    assert "checkin_session" not in client.cookies
    assert client.get("/admin", follow_redirects=False).status_code == 303


def _from(client: TestClient, address: str) -> TestClient:
    """Another browser, at another client address, on the same running server."""
    return TestClient(client.app, client=(address, 50000))


def test_failures_lock_out_only_the_address_that_failed(
    settings: Settings, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    """5 wrong passwords from one address: that address waits (429, minutes shown, Retry-After), even with
    the right password; the organiser at another address still gets in. The log names the address only."""
    make_user(settings)
    attacker = _from(client, "203.0.113.66")
    for _ in range(5):
        assert _try(attacker, "wrong password!") == 401
    with caplog.at_level("WARNING", logger="checkin.limits"):
        page = attacker.post(
            "/admin/login", data={"login": ORGANISER[0], "password": ORGANISER[1], "csrf": _form_token(attacker)}
        )
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "203.0.113.66" in logged and ORGANISER[0] not in logged
    assert page.status_code == 429
    assert "分後" in page.text and int(page.headers["Retry-After"]) > 0
    assert _try(attacker, ORGANISER[1], login="other") == 401  # other logins are not locked for it
    assert _try(_from(client, "198.51.100.7"), ORGANISER[1]) == 200


def test_a_login_guessed_from_many_addresses_still_lets_its_owner_in(settings: Settings, client: TestClient) -> None:
    """30 failures from 30 addresses: each of them waits from then on, a new guesser gets one try at most,
    and the right password from a clean address works."""
    make_user(settings)
    guessers = [_from(client, f"203.0.113.{n}") for n in range(1, 31)]
    assert [_try(guesser, "wrong password!") for guesser in guessers] == [401] * 30
    assert _try(guessers[0], ORGANISER[1]) == 429
    late = _from(client, "203.0.113.99")
    assert [_try(late, "wrong password!"), _try(late, "wrong password!")] == [401, 429]
    assert _try(_from(client, "198.51.100.7"), ORGANISER[1]) == 200


def test_one_address_trying_many_logins_is_limited(settings: Settings, client: TestClient) -> None:
    """30 tries in 15 minutes per address, whatever the login: the 31st is refused before any password check."""
    sprayer = _from(client, "203.0.113.5")
    statuses = [_try(sprayer, "wrong password!", login=f"user{n}") for n in range(31)]
    assert statuses == [401] * 30 + [429]


def test_failed_logins_are_in_the_audit_log_without_the_password(settings: Settings, client: TestClient) -> None:
    """Each failure is kept with the login as typed and the client address; the password never."""
    make_user(settings)
    assert _try(_from(client, "203.0.113.8"), "my secret guess 1") == 401
    with sqlite3.connect(settings.db_path) as conn:
        rows = conn.execute("SELECT actor, action, subject, detail FROM audit_log WHERE action LIKE 'user.login%'")
        entries = rows.fetchall()
    assert [(action, subject) for _, action, subject, _ in entries] == [("user.login_failed", ORGANISER[0])]
    assert "203.0.113.8" in entries[0][3]
    assert not any("my secret guess" in str(cell) for entry in entries for cell in entry)


def test_login_form_without_its_token_is_refused(settings: Settings, client: TestClient) -> None:
    """A login post without the form's double-submit token (a cross-site form) is 403."""
    make_user(settings)
    data = {"login": ORGANISER[0], "password": ORGANISER[1], "csrf": "forged"}
    assert client.post("/admin/login", data=data).status_code == 403
    client.cookies.clear()
    data["csrf"] = ""
    assert client.post("/admin/login", data=data).status_code == 403
    assert "checkin_session" not in client.cookies


def test_logout_needs_the_token_and_ends_the_session(client: TestClient, organiser: str) -> None:
    """Logout without the CSRF token is refused; with it, the session id stops working."""
    session_id = client.cookies["checkin_session"]
    assert client.post("/admin/logout").status_code == 403
    response = client.post("/admin/logout", data={"csrf": organiser}, follow_redirects=False)
    assert response.status_code == 303
    client.cookies.set("checkin_session", session_id)
    assert client.get("/admin", follow_redirects=False).status_code == 303


def test_session_expires_after_twelve_hours(timed: TestClient, clock: Clock) -> None:
    """A session works for 12 hours, then the login page comes back."""
    log_in(timed)
    clock.now += staff.SESSION_SECONDS - 60
    assert timed.get("/admin", follow_redirects=False).status_code == 200
    clock.now += 120
    assert timed.get("/admin", follow_redirects=False).status_code == 303


@pytest.mark.parametrize("target", ["https://evil.example/admin", "//evil.example/admin", "/t/x", "/admin\\x"])
def test_after_login_only_admin_pages_are_targets(settings: Settings, client: TestClient, target: str) -> None:
    """`next` never leads off the site or out of the admin."""
    make_user(settings)
    data = {"login": ORGANISER[0], "password": ORGANISER[1], "csrf": _form_token(client), "next": target}
    response = client.post("/admin/login", data=data, follow_redirects=False)
    assert response.headers["location"] == "/admin"


def test_old_hash_parameters_are_upgraded_at_login(settings: Settings, client: TestClient) -> None:
    """A hash made with other costs is replaced by one with today's parameters after a good login."""
    old = PasswordHasher(time_cost=2, memory_cost=128, parallelism=1)
    make_user(settings)
    with sqlite3.connect(settings.db_path) as conn:
        conn.execute("UPDATE users SET password_hash = ?", (old.hash(ORGANISER[1]),))
    log_in(client)
    with sqlite3.connect(settings.db_path) as conn:
        (stored,) = conn.execute("SELECT password_hash FROM users").fetchone()
    assert not staff.needs_rehash(stored)
    assert staff.verify_password(stored, ORGANISER[1])


def test_login_page_speaks_english_on_request(client: TestClient) -> None:
    """?lang=en gives the English login page."""
    page = client.get("/admin/login?lang=en").text
    assert "Organisers&#39; login" in page and 'lang="en"' in page

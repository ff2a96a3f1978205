"""Fixtures: fresh settings and database per test, an app client, a seeded event, a live server."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from starlette.testclient import TestClient

from checkin import staff
from checkin.app import create_app
from checkin.models import Event, Role
from checkin.settings import Settings, SmtpSettings
from checkin.storage import Engine, opened
from checkin.storage.events import create_event
from checkin.storage.staff import create_token
from checkin.storage.users import create_user
from tests.pg import fresh_database
from tests.smtp import SmtpSink, smtp_server
from tests.utils import EVENT, LiveServer, run_server

ENGINES = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests of modules marked `both_engines` run once on SQLite and once on PostgreSQL."""
    marked = metafunc.definition.get_closest_marker("both_engines")
    if "backend" in metafunc.fixturenames and marked and not metafunc.definition.get_closest_marker("sqlite_only"):
        metafunc.parametrize("backend", ENGINES, indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """The storage engine of this test: "sqlite" unless its module is marked `both_engines`."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def settings(tmp_path: Path, backend: str) -> Iterator[Settings]:
    """Settings on a fresh database; e-mail to an outbox folder; no process pool."""
    base = Settings(
        db_path=tmp_path / "checkin.db",
        sqlite_synchronous="NORMAL",
        qr_workers=0,
        smtp=SmtpSettings(outbox=tmp_path / "outbox"),
    )
    if backend == "sqlite":
        yield base
        return
    with fresh_database() as url:
        yield base.with_db(url)


@pytest.fixture
def db(settings: Settings) -> Iterator[Engine]:
    """An open database (not shared with a server)."""
    with opened(settings) as database:
        yield database


def seed_event(settings: Settings, event: Event = EVENT) -> Event:
    with opened(settings) as database:
        return database.write_sync(create_event, event, time.time())


def make_token(settings: Settings, event: Event, role: Role, name: str = "test") -> str:
    with opened(settings) as database:
        return database.write_sync(create_token, event.id, role, name, time.time())[1]


@pytest.fixture
def event(settings: Settings) -> Event:
    """The test symposium (capacity 50), created in the database."""
    return seed_event(settings)


@pytest.fixture
def client(settings: Settings, event: Event) -> Iterator[TestClient]:
    """A TestClient with the lifespan running."""
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def live(settings: Settings, event: Event) -> Iterator[LiveServer]:
    """A real uvicorn server on a free port."""
    with run_server(replace(settings)) as server:
        yield server


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id with tiny costs, so tests that log in stay fast (production costs: checkin.staff.HASHER)."""
    monkeypatch.setattr(staff, "HASHER", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))


ORGANISER = ("jimukyoku", "correct horse battery")


def make_user(settings: Settings, login: str = ORGANISER[0], password: str = ORGANISER[1]) -> None:
    """A staff login with this password."""
    with opened(settings) as database:
        database.write_sync(create_user, login, staff.hash_password(password), Role.ORGANISER, time.time())


def log_in(client: TestClient, login: str = ORGANISER[0], password: str = ORGANISER[1]) -> str:
    """Log in through the login form; returns the session's CSRF token (for the admin's forms)."""
    form = client.get("/admin/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf is not None
    response = client.post("/admin/login", data={"login": login, "password": password, "csrf": csrf.group(1)})
    assert response.status_code == 200, response.text
    token = re.search(r'name="csrf-token" content="([^"]+)"', response.text)
    assert token is not None
    return token.group(1)


@pytest.fixture
def organiser(settings: Settings, event: Event, client: TestClient) -> str:
    """`client` logged in as an organiser; the value is the session's CSRF token."""
    make_user(settings)
    return log_in(client)


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    """A real SMTP server (aiosmtpd) on a free port; `.received` holds what arrived."""
    with smtp_server() as sink:
        yield sink


@pytest.fixture
def smtp_settings(settings: Settings, smtp: SmtpSink) -> Settings:
    """The settings, sending e-mail to the `smtp` server (plain SMTP, no login)."""
    return replace(settings, smtp=replace(settings.smtp, host="127.0.0.1", port=smtp.port, security="none"))

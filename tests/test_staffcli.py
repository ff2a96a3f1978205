"""The staff commands: `checkin user add|passwd|disable` and `checkin token create|list|revoke`."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from checkin import staff
from checkin.cli import main
from checkin.models import Event, Role
from checkin.settings import Settings
from checkin.storage import Engine, database_for
from checkin.storage import users as user_store
from checkin.storage.staff import resolve_token

pytestmark = pytest.mark.both_engines

PASSWORD = "correct horse battery"


def _run(settings: Settings, *argv: str, stdin: str | None = None, monkeypatch: pytest.MonkeyPatch) -> int:
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main([*argv, "--db", settings.db])


@pytest.fixture
def opened(settings: Settings, event: Event) -> Iterator[Engine]:
    db = database_for(settings)
    db.open()
    yield db
    db.close()


def test_user_add_from_stdin_stores_an_argon2id_hash(
    settings: Settings, opened: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`user add --password-stdin` creates a login whose password verifies; the hash is argon2id."""
    assert _run(settings, "user", "add", "Jimu", "--role", "organiser", "--password-stdin",
                stdin=PASSWORD + "\n", monkeypatch=monkeypatch) == 0  # fmt: skip
    user = opened.read_sync(user_store.get_user, "jimu")
    assert user.role is Role.ORGANISER
    assert user.password_hash.startswith("$argon2id$")
    assert staff.verify_password(user.password_hash, PASSWORD)


def test_user_add_prompts_twice_and_refuses_a_mismatch(
    settings: Settings, opened: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --password-stdin the password is typed twice; two different ones are an error."""
    answers = iter([PASSWORD, "something else!"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    assert _run(settings, "user", "add", "jimu", monkeypatch=monkeypatch) == 1
    assert "differ" in capsys.readouterr().err
    assert opened.read_sync(user_store.find_user, "jimu") is None
    answers = iter([PASSWORD, PASSWORD])
    assert _run(settings, "user", "add", "jimu", monkeypatch=monkeypatch) == 0


def test_user_add_refuses_bad_input(
    settings: Settings, opened: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A short password, a bad login, no input at all, or a taken login: exit 1 with a message."""
    assert _run(settings, "user", "add", "jimu", "--password-stdin", stdin="short\n", monkeypatch=monkeypatch) == 1
    assert _run(settings, "user", "add", "a b", "--password-stdin", stdin=PASSWORD, monkeypatch=monkeypatch) == 1
    monkeypatch.setattr("getpass.getpass", lambda prompt: (_ for _ in ()).throw(EOFError()))
    assert _run(settings, "user", "add", "jimu", monkeypatch=monkeypatch) == 1
    assert _run(settings, "user", "add", "jimu", "--password-stdin", stdin=PASSWORD, monkeypatch=monkeypatch) == 0
    assert _run(settings, "user", "add", "JIMU", "--password-stdin", stdin=PASSWORD, monkeypatch=monkeypatch) == 1
    err = capsys.readouterr().err
    assert "at least 10" in err and "already exists" in err and "no password" in err
    assert "Traceback" not in err


def test_passwd_and_disable_end_open_sessions(
    settings: Settings, opened: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new password or disabling a login ends its sessions; passwd enables it again."""
    _run(settings, "user", "add", "jimu", "--password-stdin", stdin=PASSWORD, monkeypatch=monkeypatch)
    user = opened.read_sync(user_store.get_user, "jimu")
    now = time.time()
    opened.write_sync(user_store.create_session, user, "session-1", "csrf", now, now + 3600)
    assert opened.read_sync(user_store.resolve_session, "session-1", now) is not None
    assert _run(settings, "user", "disable", "jimu", monkeypatch=monkeypatch) == 0
    assert opened.read_sync(user_store.resolve_session, "session-1", now) is None
    assert opened.read_sync(user_store.get_user, "jimu").disabled
    new = "another good password"
    assert _run(settings, "user", "passwd", "jimu", "--password-stdin", stdin=new, monkeypatch=monkeypatch) == 0
    user = opened.read_sync(user_store.get_user, "jimu")
    assert not user.disabled and staff.verify_password(user.password_hash, new)
    assert _run(settings, "user", "passwd", "nobody", "--password-stdin", stdin=new, monkeypatch=monkeypatch) == 1


def test_token_create_list_revoke(
    settings: Settings, opened: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A created token prints alone on the last line, is listed, and stops working once revoked."""
    assert (
        _run(settings, "token", "create", "sympo", "--role", "kiosk", "--name", "受付1", monkeypatch=monkeypatch) == 0
    )
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    token = opened.read_sync(resolve_token, secret)
    assert token is not None and token.role is Role.KIOSK
    assert _run(settings, "token", "list", "sympo", monkeypatch=monkeypatch) == 0
    listing = capsys.readouterr().out
    assert f"{token.id}\tkiosk\t受付1" in listing and secret not in listing
    assert _run(settings, "token", "revoke", str(token.id), monkeypatch=monkeypatch) == 0
    assert opened.read_sync(resolve_token, secret) is None
    assert _run(settings, "token", "list", "sympo", monkeypatch=monkeypatch) == 0
    assert "\t-" not in capsys.readouterr().out.splitlines()[-1]
    assert _run(settings, "token", "revoke", "999", monkeypatch=monkeypatch) == 1


def test_demo_prints_the_organiser_login_that_works(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The demo's first run prints an organiser login and password that the database accepts."""
    from checkin.cli import show_demo

    settings = Settings(db_path=tmp_path / "demo.db")
    show_demo(settings)
    line = next(line for line in capsys.readouterr().out.splitlines() if "organiser:" in line)
    login, password = line.split("organiser:")[1].split("(")[0].strip().split(" / ")
    db = database_for(settings)
    db.open()
    try:
        user = db.read_sync(user_store.get_user, login)
    finally:
        db.close()
    assert staff.verify_password(user.password_hash, password)
    show_demo(settings)
    assert "organiser:" not in capsys.readouterr().out

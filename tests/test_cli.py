"""The command line: events, tokens, backup, and errors that say what went wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from checkin.cli import main
from checkin.models import Role
from checkin.settings import Settings
from checkin.storage import opened
from checkin.storage.events import get_event
from checkin.storage.staff import resolve_token


def _create(db: Path, slug: str = "sympo") -> int:
    return main(
        [
            "event",
            "create",
            slug,
            "--db",
            str(db),
            "--title",
            "シンポジウム",
            "--starts",
            "2023-11-27T13:30+09:00",
            "--ends",
            "2023-11-27T16:30+09:00",
            "--capacity",
            "300",
        ]
    )


def test_event_create_then_duplicate_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Creating an event works once; the same slug again fails with a message, not a traceback."""
    db = tmp_path / "c.db"
    assert _create(db) == 0
    assert _create(db) == 1
    assert "already exists" in capsys.readouterr().err


def test_event_create_takes_a_hall_capacity(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--hall-capacity N` is stored apart from the registration capacity; a bad value is an error."""
    db = tmp_path / "c.db"
    args = ["--db", str(db), "--title", "t", "--starts", "2023-11-27T13:30", "--ends", "2023-11-27T16:30"]
    assert main(["event", "create", "hall", *args, "--capacity", "300", "--hall-capacity", "350"]) == 0
    assert main(["event", "create", "bad", *args, "--capacity", "300", "--hall-capacity", "x"]) == 1
    assert "hall_capacity" in capsys.readouterr().err
    with opened(Settings(db_path=db)) as database:
        event = database.read_sync(get_event, "hall")
    assert (event.capacity, event.hall_capacity, event.hall_limit) == (300, 350, 350)


def test_token_create_prints_the_secret_alone_on_the_last_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The token is the last line of stdout, and it resolves to a kiosk token of the event."""
    db = tmp_path / "c.db"
    _create(db)
    capsys.readouterr()
    assert main(["token", "create", "sympo", "--db", str(db), "--role", "kiosk", "--name", "受付1"]) == 0
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    with opened(Settings(db_path=db)) as database:
        token = database.read_sync(resolve_token, secret)
    assert token is not None and token.role is Role.KIOSK and token.name == "受付1"


def test_unknown_event_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A token for an event that does not exist is refused."""
    assert main(["token", "create", "nope", "--db", str(tmp_path / "c.db"), "--role", "kiosk", "--name", "x"]) == 1
    assert "nope" in capsys.readouterr().err


def test_backup_copies_and_refuses_to_overwrite(tmp_path: Path) -> None:
    """A backup is written once; an existing target is not overwritten."""
    db = tmp_path / "c.db"
    _create(db)
    target = tmp_path / "backup.db"
    assert main(["backup", "--db", str(db), str(target)]) == 0
    assert target.stat().st_size > 0
    assert main(["backup", "--db", str(db), str(target)]) == 1


def test_bad_time_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unreadable start time is reported, not a traceback."""
    db = str(tmp_path / "c.db")
    code = main(
        ["event", "create", "x", "--db", db, "--title", "t", "--starts", "soon", "--ends", "x", "--capacity", "1"]
    )
    assert code == 1
    assert "error" in capsys.readouterr().err

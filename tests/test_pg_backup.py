"""`checkin backup` on PostgreSQL: pg_dump's custom format, restorable with pg_restore."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from checkin.cli import main
from checkin.settings import Settings
from checkin.storage import opened
from tests.conftest import seed_event
from tests.door_helpers import register
from tests.pg import fresh_database

pytestmark = pytest.mark.skipif(shutil.which("pg_restore") is None, reason="postgresql-client is not installed")


def _registrants(settings: Settings) -> int:
    with opened(settings) as db:
        return int(db.read_sync(lambda conn: conn.execute("SELECT COUNT(*) FROM registrants").fetchone()[0]))


def test_backup_of_postgresql_is_a_dump_that_restores_the_same_rows(settings: Settings, tmp_path: Path) -> None:
    """The dump restores into an empty database with every registrant; an existing target is refused."""
    with fresh_database() as url:
        source = settings.with_db(url)
        event = seed_event(source)
        with opened(source) as db:
            register(db, event, 5)
        target = tmp_path / "checkin.dump"
        assert main(["backup", "--db", url, str(target)]) == 0
        assert target.read_bytes().startswith(b"PGDMP")
        assert main(["backup", "--db", url, str(target)]) == 1
    with fresh_database(empty=True) as restored:
        subprocess.run(["pg_restore", "--no-owner", f"--dbname={restored}", str(target)], check=True)
        assert _registrants(settings.with_db(restored)) == 5


def test_backup_of_an_unreachable_postgresql_says_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """pg_dump's own message, and no file that looks like a backup."""
    target = tmp_path / "checkin.dump"
    assert main(["backup", "--db", "postgresql://postgres@127.0.0.1:5432/checkin_t_missing", str(target)]) == 1
    assert "pg_dump failed" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []

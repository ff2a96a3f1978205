"""Staff logins in storage: sessions end as they should; failed logins go to the audit log."""

from __future__ import annotations

import time

import pytest

from checkin import staff
from checkin.models import Role
from checkin.storage import Database, users

pytestmark = pytest.mark.both_engines


def test_a_good_login_drops_old_sessions(db: Database) -> None:
    """Opening a session drops expired sessions; the new one works until it expires."""
    now = time.time()
    user = db.write_sync(users.create_user, "jimu", staff.hash_password("x" * 10), Role.ORGANISER, now)
    db.write_sync(users.create_session, user, "old", "csrf", now - 100, now - 1)
    db.write_sync(users.create_session, user, "new", "csrf2", now, now + 60)
    assert db.read_sync(lambda conn: conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0]) == 1
    session = db.read_sync(users.resolve_session, "new", now)
    assert session is not None and session.login == "jimu" and session.csrf == "csrf2"
    assert db.read_sync(users.resolve_session, "new", now + 61) is None
    db.write_sync(users.end_session, "new")
    assert db.read_sync(users.resolve_session, "new", now) is None


def test_rehash_does_not_overwrite_a_changed_password(db: Database) -> None:
    """A late rehash after a password change leaves the new password in place."""
    now = time.time()
    user = db.write_sync(users.create_user, "jimu", "old-hash", Role.ORGANISER, now)
    db.write_sync(users.set_password, "jimu", "new-hash", now)
    db.write_sync(users.rehash_password, user.id, "old-hash", "rehashed-old")
    assert db.read_sync(users.get_user, "jimu").password_hash == "new-hash"

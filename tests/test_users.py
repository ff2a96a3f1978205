"""Staff logins in storage: the throttle holds under parallel attempts; sessions end as they should."""

from __future__ import annotations

import asyncio
import time

from checkin import staff
from checkin.models import Role
from checkin.storage import Database, users


async def test_parallel_guesses_cannot_pass_the_throttle(db: Database) -> None:
    """20 simultaneous attempts on one login: exactly 5 get through to the password check."""
    now = time.time()
    waits = await asyncio.gather(*(db.write(users.begin_attempt, "jimu", now) for _ in range(20)))
    assert sum(1 for wait in waits if wait <= 0) == staff.THROTTLE_FAILURES
    assert await db.write(users.begin_attempt, "other", now) == 0


def test_a_good_login_clears_failures_and_old_sessions(db: Database) -> None:
    """Opening a session forgets the login's failures and drops expired sessions."""
    now = time.time()
    user = db.write_sync(users.create_user, "jimu", staff.hash_password("x" * 10), Role.ORGANISER, now)
    db.write_sync(users.create_session, user, "old", "csrf", now - 100, now - 1)
    for _ in range(4):
        db.write_sync(users.begin_attempt, "jimu", now)
    db.write_sync(users.create_session, user, "new", "csrf2", now, now + 60)
    assert db.read_sync(lambda conn: conn.execute("SELECT COUNT(*) FROM login_failures").fetchone()[0]) == 0
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

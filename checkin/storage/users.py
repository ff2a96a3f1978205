"""Staff logins: users, their sessions (only the hash of a session id is stored) and failed logins (audit log)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from checkin.errors import AlreadyExists, NotFound
from checkin.models import Role
from checkin.storage.events import audit
from checkin.storage.sql import Connection, Row
from checkin.storage.staff import hash_secret


@dataclass(frozen=True)
class User:
    id: int
    login: str
    role: Role
    password_hash: str
    disabled: bool


@dataclass(frozen=True)
class Session:
    """A live login: who, the CSRF token of its forms, and when it ends."""

    user_id: int
    login: str
    role: Role
    csrf: str
    expires_at: float


def _user(row: Row) -> User:
    return User(
        id=row["id"],
        login=row["login"],
        role=Role(row["role"]),
        password_hash=row["password_hash"],
        disabled=row["disabled_at"] is not None,
    )


def create_user(conn: Connection, login: str, password_hash: str, role: Role, now: float, actor: str = "cli") -> User:
    """A new staff login; AlreadyExists when the login is taken."""
    try:
        conn.execute(
            "INSERT INTO users (login, password_hash, role, created_at) VALUES (?, ?, ?, ?)",
            (login, password_hash, role.value, now),
        )
    except sqlite3.IntegrityError as exc:
        raise AlreadyExists(f"login {login!r} already exists") from exc
    audit(conn, None, now, actor, "user.create", login, {"role": role.value})
    return get_user(conn, login)


def find_user(conn: Connection, login: str) -> User | None:
    row = conn.execute("SELECT * FROM users WHERE login = ?", (login,)).fetchone()
    return None if row is None else _user(row)


def get_user(conn: Connection, login: str) -> User:
    """The user with this login, or NotFound."""
    user = find_user(conn, login)
    if user is None:
        raise NotFound(f"no login {login!r}")
    return user


def set_password(conn: Connection, login: str, password_hash: str, now: float, actor: str = "cli") -> None:
    """Change a password (enabling the login again); its open sessions end."""
    user = get_user(conn, login)
    conn.execute("UPDATE users SET password_hash = ?, disabled_at = NULL WHERE id = ?", (password_hash, user.id))
    conn.execute("DELETE FROM sessions WHERE user_id = ?", (user.id,))
    audit(conn, None, now, actor, "user.password", login)


def rehash_password(conn: Connection, user_id: int, old_hash: str, new_hash: str) -> None:
    """Store a hash made with today's parameters, unless the password changed meanwhile."""
    conn.execute("UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?", (new_hash, user_id, old_hash))


def disable_user(conn: Connection, login: str, now: float, actor: str = "cli") -> None:
    """Stop a login from signing in; its open sessions end."""
    user = get_user(conn, login)
    conn.execute("UPDATE users SET disabled_at = ? WHERE id = ? AND disabled_at IS NULL", (now, user.id))
    conn.execute("DELETE FROM sessions WHERE user_id = ?", (user.id,))
    audit(conn, None, now, actor, "user.disable", login)


def create_session(conn: Connection, user: User, session_id: str, csrf: str, now: float, expires_at: float) -> None:
    """Open a session after a good password; forget any expired sessions."""
    conn.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))
    conn.execute(
        "INSERT INTO sessions (id_hash, user_id, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
        (hash_secret(session_id), user.id, csrf, now, expires_at),
    )
    audit(conn, None, now, f"user:{user.login}", "user.login", user.login)


def resolve_session(conn: Connection, session_id: str, now: float) -> Session | None:
    """The live session with this id (not expired, login not disabled), or None."""
    row = conn.execute(
        "SELECT s.user_id, s.csrf, s.expires_at, u.login, u.role FROM sessions s JOIN users u ON u.id = s.user_id"
        " WHERE s.id_hash = ? AND s.expires_at > ? AND u.disabled_at IS NULL",
        (hash_secret(session_id), now),
    ).fetchone()
    if row is None:
        return None
    return Session(row["user_id"], row["login"], Role(row["role"]), row["csrf"], row["expires_at"])


def end_session(conn: Connection, session_id: str) -> None:
    conn.execute("DELETE FROM sessions WHERE id_hash = ?", (hash_secret(session_id),))


def login_failed(conn: Connection, login: str, address: str, now: float) -> None:
    """Keep a failed login in the audit log: the login as typed and the client address, never the password."""
    audit(conn, None, now, f"address:{address}", "user.login_failed", login, {"address": address})

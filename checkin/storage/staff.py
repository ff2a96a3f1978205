"""Staff: API tokens by role (only their hashes are stored)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from checkin.errors import NotFound
from checkin.models import Event, Role
from checkin.storage.events import audit, event_of_slug
from checkin.storage.sql import Connection, Row

TOKEN_PREFIX = "ckt_"  # noqa: S105 (a prefix, not a secret)


def hash_secret(secret: str) -> str:
    """SHA-256 of a high-entropy secret (tokens, session ids, pairing codes): what we store."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TokenInfo:
    id: int
    role: Role
    name: str
    event_id: int | None
    created_at: float
    revoked_at: float | None


_TOKEN_COLUMNS = ("id", "role", "name", "event_id", "created_at", "revoked_at")


def _token_from_row(row: Row, prefix: str = "") -> TokenInfo:
    return TokenInfo(
        id=row[f"{prefix}id"],
        role=Role(row[f"{prefix}role"]),
        name=row[f"{prefix}name"],
        event_id=row[f"{prefix}event_id"],
        created_at=row[f"{prefix}created_at"],
        revoked_at=row[f"{prefix}revoked_at"],
    )


def create_token(
    conn: Connection, event_id: int | None, role: Role, name: str, now: float, actor: str = "cli"
) -> tuple[TokenInfo, str]:
    """A new API token; returns its record and the secret, which is shown once and never stored."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    cur = conn.execute(
        "INSERT INTO api_tokens (event_id, role, name, token_hash, created_at) VALUES (?, ?, ?, ?, ?)",
        (event_id, role.value, name, hash_secret(secret), now),
    )
    audit(conn, event_id, now, actor, "token.create", name, {"role": role.value})
    row = conn.execute("SELECT * FROM api_tokens WHERE id = ?", (cur.lastrowid,)).fetchone()
    return _token_from_row(row), secret


# An api_tokens row `t` of a secret, unless revoked.
_LIVE = "t.token_hash = ? AND t.revoked_at IS NULL"


def resolve_token(conn: Connection, secret: str) -> TokenInfo | None:
    """The live token with this secret, or None (unknown or revoked)."""
    row = conn.execute(f"SELECT * FROM api_tokens t WHERE {_LIVE}", (hash_secret(secret),)).fetchone()
    return None if row is None else _token_from_row(row)


def event_and_token(
    conn: Connection, slug: str, secret: str, more: tuple[str, str, tuple[Any, ...]] = ("", "", ())
) -> tuple[Event, TokenInfo | None, Row]:
    """`get_event` and `resolve_token` in one statement (one round trip on PostgreSQL): the door's first read.

    `more`: further columns, LEFT JOINs over the event `e` and the token `t`, and the joins' parameters, read
    in the same statement; the row holds them.
    """
    columns, joins, parameters = more
    tokens = ", ".join(f"t.{name} AS token_{name}" for name in _TOKEN_COLUMNS)
    row = conn.execute(
        f"SELECT e.*, {tokens}{', ' if columns else ''}{columns}"
        f" FROM events e LEFT JOIN api_tokens t ON {_LIVE}{joins} WHERE e.slug = ?",
        (hash_secret(secret), *parameters, slug),
    ).fetchone()
    event = event_of_slug(row, slug)
    return event, None if row["token_id"] is None else _token_from_row(row, "token_"), row


def revoke_token(conn: Connection, token_id: int, now: float, actor: str, event_id: int | None = None) -> TokenInfo:
    """Revoke a token (of this event, when given); it stops working at its next request. NotFound if none."""
    row = conn.execute("SELECT * FROM api_tokens WHERE id = ?", (token_id,)).fetchone()
    if row is None or (event_id is not None and row["event_id"] != event_id):
        raise NotFound(f"no token #{token_id}")
    if row["revoked_at"] is None:
        conn.execute("UPDATE api_tokens SET revoked_at = ? WHERE id = ?", (now, token_id))
        audit(conn, row["event_id"], now, actor, "token.revoke", row["name"], {"role": row["role"]})
    return _token_from_row(conn.execute("SELECT * FROM api_tokens WHERE id = ?", (token_id,)).fetchone())


def list_tokens(conn: Connection, event_id: int | None) -> list[TokenInfo]:
    """The tokens of an event and those valid for every event, oldest first."""
    rows = conn.execute(
        "SELECT * FROM api_tokens WHERE event_id IS ? OR event_id IS NULL ORDER BY id", (event_id,)
    ).fetchall()
    return [_token_from_row(row) for row in rows]

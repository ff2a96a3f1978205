"""Kiosks: the devices at the door, their pairing codes, tokens and health."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from checkin.errors import AlreadyExists, Invalid, NotFound, PairingFailed
from checkin.models import Role
from checkin.scans import Heartbeat
from checkin.stats import KIOSK_ONLINE_SECONDS
from checkin.storage.events import audit, get_event_by_id
from checkin.storage.sql import Connection, Row
from checkin.storage.staff import create_token, hash_secret
from checkin.text import nfkc, single_line

# No I/O/0/1: read aloud or typed from a screen, nothing is ambiguous.
PAIRING_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
PAIRING_LENGTH = 8
PAIRING_TTL = 24 * 3600.0
MAX_NAME = 50


@dataclass(frozen=True)
class Kiosk:
    id: int
    event_id: int
    name: str
    token_id: int | None
    exit_mode: bool
    last_seen_at: float | None
    queue_length: int
    last_scan_at: float | None
    created_at: float
    revoked_at: float | None
    pairing_expires_at: float | None
    scans: int = 0  # attempts recorded by this kiosk (list_kiosks fills it)
    checked_in: int = 0  # of which admitted people

    def online(self, now: float) -> bool:
        """Whether the kiosk reached the server recently."""
        return (
            self.revoked_at is None
            and self.last_seen_at is not None
            and now - self.last_seen_at <= KIOSK_ONLINE_SECONDS
        )

    @property
    def paired(self) -> bool:
        return self.token_id is not None


def _kiosk_from_row(row: Row) -> Kiosk:
    keys = row.keys()
    return Kiosk(
        id=row["id"],
        event_id=row["event_id"],
        name=row["name"],
        token_id=row["token_id"],
        exit_mode=bool(row["exit_mode"]),
        last_seen_at=row["last_seen_at"],
        queue_length=row["queue_length"],
        last_scan_at=row["last_scan_at"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
        pairing_expires_at=row["pairing_expires_at"],
        scans=row["scans"] if "scans" in keys else 0,
        checked_in=row["checked_in"] if "checked_in" in keys else 0,
    )


def normalise_pairing_code(text: str) -> str:
    """A pairing code as typed: full-width folded, upper case, without spaces or dashes."""
    return "".join(ch for ch in nfkc(text).upper() if ch.isalnum())


def _new_pairing_code() -> str:
    return "".join(secrets.choice(PAIRING_ALPHABET) for _ in range(PAIRING_LENGTH))


def _set_pairing_code(conn: Connection, kiosk_id: int, now: float) -> str:
    code = _new_pairing_code()
    conn.execute(
        "UPDATE kiosks SET pairing_hash = ?, pairing_expires_at = ? WHERE id = ?",
        (hash_secret(code), now + PAIRING_TTL, kiosk_id),
    )
    return code


def kiosk_name(value: str) -> str:
    """A kiosk's name, checked (e.g. 受付1)."""
    name = single_line(nfkc(value))
    if not name or len(name) > MAX_NAME:
        raise Invalid("a kiosk needs a name of up to 50 characters", fields={"name": "required"})
    return name


def create_kiosk(conn: Connection, event_id: int, name: str, now: float, actor: str = "admin") -> tuple[Kiosk, str]:
    """A new kiosk and its one-time pairing code (valid 24 h; only its hash is kept).

    A revoked kiosk's name may be used again: the row comes back, unpaired, for the new device.
    """
    name = kiosk_name(name)
    row = conn.execute("SELECT * FROM kiosks WHERE event_id = ? AND name = ?", (event_id, name)).fetchone()
    if row is not None and row["revoked_at"] is None:
        raise AlreadyExists(f"a kiosk named {name} exists")
    if row is None:
        cur = conn.execute("INSERT INTO kiosks (event_id, name, created_at) VALUES (?, ?, ?)", (event_id, name, now))
        kiosk_id = int(cur.lastrowid or 0)
    else:
        kiosk_id = row["id"]
        conn.execute("UPDATE kiosks SET revoked_at = NULL, token_id = NULL WHERE id = ?", (kiosk_id,))
    code = _set_pairing_code(conn, kiosk_id, now)
    audit(conn, event_id, now, actor, "kiosk.create", name)
    return get_kiosk(conn, event_id, kiosk_id), code


def new_pairing_code(conn: Connection, event_id: int, kiosk_id: int, now: float, actor: str = "admin") -> str:
    """A fresh pairing code for a kiosk (a replaced tablet); the device paired before stops."""
    kiosk = get_kiosk(conn, event_id, kiosk_id)
    if kiosk.revoked_at is not None:
        raise NotFound("this kiosk is revoked")
    code = _set_pairing_code(conn, kiosk_id, now)
    audit(conn, event_id, now, actor, "kiosk.pairing_code", kiosk.name)
    return code


def get_kiosk(conn: Connection, event_id: int, kiosk_id: int) -> Kiosk:
    row = conn.execute("SELECT * FROM kiosks WHERE id = ? AND event_id = ?", (kiosk_id, event_id)).fetchone()
    if row is None:
        raise NotFound("no such kiosk")
    return _kiosk_from_row(row)


def list_kiosks(conn: Connection, event_id: int) -> list[Kiosk]:
    """An event's kiosks by name, with how many scans and check-ins each recorded."""
    rows = conn.execute(
        "SELECT k.*, COUNT(s.id) AS scans,"
        " COUNT(CASE WHEN s.direction = 'in' AND s.result = 'ok' THEN 1 END) AS checked_in"
        " FROM kiosks k LEFT JOIN scans s ON s.kiosk_id = k.id WHERE k.event_id = ? GROUP BY k.id ORDER BY k.name",
        (event_id,),
    ).fetchall()
    return [_kiosk_from_row(row) for row in rows]


def revoke_kiosk(conn: Connection, event_id: int, kiosk_id: int, now: float, actor: str = "admin") -> Kiosk:
    """Revoke a kiosk: its token (and any kiosk token of its name) stops working at its next request."""
    kiosk = get_kiosk(conn, event_id, kiosk_id)
    conn.execute(
        "UPDATE api_tokens SET revoked_at = ? WHERE revoked_at IS NULL AND (id = ?"
        " OR (event_id = ? AND role = 'kiosk' AND name = ?))",
        (now, kiosk.token_id, event_id, kiosk.name),
    )
    conn.execute(
        "UPDATE kiosks SET revoked_at = COALESCE(revoked_at, ?), pairing_hash = NULL WHERE id = ?", (now, kiosk_id)
    )
    audit(conn, event_id, now, actor, "kiosk.revoke", kiosk.name)
    return get_kiosk(conn, event_id, kiosk_id)


@dataclass(frozen=True)
class Pairing:
    """What a kiosk learns when it pairs: its token (shown once), event and name."""

    token: str
    slug: str
    kiosk: Kiosk


def pair_kiosk(conn: Connection, code: str, now: float) -> Pairing:
    """Spend a pairing code: a new kiosk token replaces any earlier one of this kiosk."""
    row = conn.execute(
        "SELECT * FROM kiosks WHERE pairing_hash = ? AND pairing_expires_at > ? AND revoked_at IS NULL",
        (hash_secret(normalise_pairing_code(code)), now),
    ).fetchone()
    if row is None:
        raise PairingFailed("this pairing code is wrong, used or expired")
    kiosk = _kiosk_from_row(row)
    if kiosk.token_id is not None:
        conn.execute("UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (now, kiosk.token_id))
    token, secret = create_token(conn, kiosk.event_id, Role.KIOSK, kiosk.name, now, actor="pairing")
    conn.execute(
        "UPDATE kiosks SET token_id = ?, pairing_hash = NULL, pairing_expires_at = NULL WHERE id = ?",
        (token.id, kiosk.id),
    )
    audit(conn, kiosk.event_id, now, "pairing", "kiosk.pair", kiosk.name)
    event = get_event_by_id(conn, kiosk.event_id)
    return Pairing(secret, event.slug, get_kiosk(conn, kiosk.event_id, kiosk.id))


def kiosk_for_token(conn: Connection, event_id: int, token_id: int, name: str, now: float) -> Kiosk:
    """The kiosk behind a kiosk token; a token made on the command line gets its row (by name) on first use."""
    row = conn.execute("SELECT * FROM kiosks WHERE token_id = ? AND event_id = ?", (token_id, event_id)).fetchone()
    if row is not None:
        return _kiosk_from_row(row)
    row = conn.execute("SELECT * FROM kiosks WHERE event_id = ? AND name = ?", (event_id, name)).fetchone()
    if row is None:
        conn.execute(
            "INSERT INTO kiosks (event_id, name, token_id, created_at) VALUES (?, ?, ?, ?)",
            (event_id, name, token_id, now),
        )
        audit(conn, event_id, now, name, "kiosk.create", name, {"by": "token"})
    elif row["token_id"] is None or row["revoked_at"] is not None:
        # A live token is an organiser's deliberate act: it claims the free (or revoked) row of its name.
        conn.execute("UPDATE kiosks SET token_id = ?, revoked_at = NULL WHERE id = ?", (token_id, row["id"]))
    else:
        return _kiosk_from_row(row)  # a second token of one name shares its kiosk
    found = conn.execute("SELECT * FROM kiosks WHERE event_id = ? AND name = ?", (event_id, name)).fetchone()
    return _kiosk_from_row(found)


def heartbeat(conn: Connection, event_id: int, token_id: int, name: str, beat: Heartbeat, now: float) -> None:
    """Record a kiosk's health: seen now, its offline queue, last scan, direction and camera decode rate."""
    kiosk = kiosk_for_token(conn, event_id, token_id, name, now)
    conn.execute(
        "UPDATE kiosks SET last_seen_at = ?, queue_length = ?,"
        " last_scan_at = COALESCE(MAX(last_scan_at, ?), last_scan_at, ?), exit_mode = ?, decode_fps = ? WHERE id = ?",
        (now, beat.queue_length, beat.last_scan_at, beat.last_scan_at, int(beat.exit_mode), beat.decode_fps, kiosk.id),
    )

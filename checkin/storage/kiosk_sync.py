"""The copy a kiosk keeps for working offline: hashes of ticket codes (never the codes), names, statuses.

Triggers (schema v5) stamp every registrant with a rising sequence number whenever the registrant,
one of their tickets or their attendance changes, whoever made the change; a kiosk's cursor is the
highest number it has seen, so a delta is simply the registrants stamped after it.
"""

from __future__ import annotations

import gzip
from typing import Any

from checkin.models import Event, Status, iso
from checkin.storage.scans import counts, to_json
from checkin.storage.sql import Connection, Row


def _since(cursor: str | None, seq: int, reset_seq: int) -> int | None:
    """The sequence number a cursor stands for, or None when the kiosk needs everything again."""
    if not cursor or not cursor.isdigit() or len(cursor) > 18:
        return None
    since = int(cursor)
    # Older than a deletion (a delta cannot say "gone"), or from a database that was replaced.
    if since < reset_seq or since > seq:
        return None
    return since


def kiosk_sync(conn: Connection, event: Event, cursor: str | None, now: float) -> dict[str, Any]:
    """Everything (no or stale cursor) or what changed since the cursor, with the next cursor."""
    seq, reset_seq = conn.execute("SELECT seq, reset_seq FROM sync_state").fetchone()
    since = _since(cursor, seq, reset_seq)
    rows = conn.execute(
        "SELECT r.id, r.ref_no, r.name, r.kana, r.organisation, r.mode, r.status, a.first_checked_in_at"
        " FROM registrants r LEFT JOIN attendance a ON a.registrant_id = r.id"
        " WHERE r.event_id = ? AND r.sync_seq > ? ORDER BY r.id",
        (event.id, since or 0),
    ).fetchall()
    registrants: dict[int, dict[str, Any]] = {}
    for row in rows:
        registrants[row["id"]] = {
            "id": row["id"],
            "ref_no": row["ref_no"],
            "name": row["name"],
            "kana": row["kana"],
            "organisation": row["organisation"],
            "mode": row["mode"],
            "status": row["status"],
            "checked_in_at": iso(row["first_checked_in_at"], event.tz),
        }
    tickets = conn.execute(
        "SELECT t.registrant_id, t.code_hash, t.revoked_at FROM tickets t JOIN registrants r ON r.id = t.registrant_id"
        " WHERE r.event_id = ? AND r.sync_seq > ? ORDER BY t.id",
        (event.id, since or 0),
    ).fetchall()
    entries = [_entry(registrants[row["registrant_id"]], row) for row in tickets]
    figures = counts(conn, event.id)
    return {
        "cursor": str(seq),
        "full": since is None,
        "server_time": iso(now, event.tz),
        "event": {
            "slug": event.slug,
            "title": event.title,
            "capacity": event.capacity,
            "hall_capacity": event.hall_limit,
        },
        "counts": {"checked_in": figures.checked_in, "in_hall": figures.in_hall},
        "entries": entries,
        "registrants": list(registrants.values()),
    }


def _entry(registrant: dict[str, Any], ticket: Row) -> dict[str, Any]:
    valid = ticket["revoked_at"] is None and registrant["status"] != Status.CANCELLED.value
    # The registrant's status rides along so that an offline kiosk answers `waitlisted` as the server would.
    shown = ("id", "ref_no", "name", "kana", "organisation", "mode", "status")
    return {
        "hash": ticket["code_hash"],
        "status": "valid" if valid else "revoked",
        "registrant": {key: registrant[key] for key in shown},
        "checked_in_at": registrant["checked_in_at"],
    }


def sync_body(conn: Connection, event: Event, since: str | None, now: float, gzipped: bool) -> bytes:
    """The kiosk's copy as the response body: JSON, gzipped when the kiosk accepts it."""
    # Encoded (and compressed, when the kiosk accepts it) on the reading thread: a full copy of a large
    # event is megabytes of JSON, which would otherwise hold the event loop and every scan behind it.
    body = to_json(kiosk_sync(conn, event, since, now)).encode("utf-8")
    return gzip.compress(body, compresslevel=5) if gzipped else body

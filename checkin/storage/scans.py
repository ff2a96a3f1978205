"""The door's writes and reads: scans, walk-ins, undo, and the attendance a kiosk needs to see.

`record_scan` and `register_walkin` each run as ONE `db.write` call: the writer thread runs them one
after another, so sixteen kiosks scanning one ticket at once are decided in turn and one gets `ok`.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from checkin import scans as rules
from checkin import tickets
from checkin.errors import Invalid, NotCheckedIn
from checkin.models import Event, Registrant, iso
from checkin.scans import Action, Counts, Decision, Method, Presence, Result, ScanRequest, Subject, WalkIn
from checkin.storage import registrants as people
from checkin.storage.events import audit
from checkin.storage.kiosks import kiosk_for_token
from checkin.storage.sql import Connection, Row
from checkin.storage.staff import TokenInfo, event_and_token

# Warnings that an organiser should be able to find later in the audit log.
FLAGGED = frozenset({"admitted_offline_revoked", "earlier_scan_stands", "over_capacity"})


@dataclass(frozen=True)
class Caller:
    """Who is scanning: a kiosk token (its kiosk row is found or made by name) or an organiser."""

    name: str
    kiosk_token_id: int | None = None


@dataclass(frozen=True)
class Scanner:
    name: str
    kiosk_id: int | None = None


@dataclass(frozen=True)
class ScanOutcome:
    """The answer to send (JSON text, as stored), and whether this call recorded something (False: a retry
    got the first answer)."""

    text: str
    recorded: bool

    @property
    def body(self) -> dict[str, Any]:
        return dict(json.loads(self.text))


def to_json(body: dict[str, Any]) -> str:
    """Compact JSON, as Starlette's JSONResponse writes it."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class _Target:
    """What the scanned code or the chosen registrant turned out to be."""

    problem: Result | None
    registrant: Registrant | None = None
    ticket_revoked: bool = False
    code_hash: str | None = None
    presence: Presence | None = None


def text_hash(raw: str) -> str:
    """SHA-256 of what was scanned, tidied; for a ticket code it equals `tickets.code_hash`."""
    return hashlib.sha256(tickets.normalise(raw).encode("utf-8")).hexdigest()


# An event's figures, from `events e` joined with `attendance_counts c` (kept exact by triggers).
_COUNTS = (
    "e.capacity AS counts_capacity, c.checked_in AS counts_checked_in, c.in_hall AS counts_in_hall,"
    " COALESCE(e.hall_capacity, e.capacity) AS counts_hall_capacity"
)
_COUNTED = "events e JOIN attendance_counts c ON c.event_id = e.id"


def counts(conn: Connection, event_id: int) -> Counts:
    """Capacities, people checked in and people in the hall now (kept exact by triggers)."""
    return _counts_of(conn.execute(f"SELECT {_COUNTS} FROM {_COUNTED} WHERE e.id = ?", (event_id,)).fetchone())


def _counts_of(row: Row) -> Counts:
    return Counts(*(row[f"counts_{name}"] for name in ("capacity", "checked_in", "in_hall", "hall_capacity")))


def _stored_answer(conn: Connection, event_id: int, scan_id: str) -> ScanOutcome | None:
    row = conn.execute("SELECT response FROM scans WHERE event_id = ? AND scan_id = ?", (event_id, scan_id)).fetchone()
    return None if row is None else ScanOutcome(row[0], recorded=False)


# What a kiosk's scan needs before its decision, read with its event and token (`scan_with_token`): the answer
# its scan_id already got, and the token's kiosk (`kiosk_for_token`'s first lookup). Over `e` and `t`.
_KNOWN_COLUMNS = "s.response AS stored_response, k.id AS kiosk_id, k.name AS kiosk_name"
_KNOWN_JOINS = (
    " LEFT JOIN scans s ON s.event_id = e.id AND s.scan_id = ?"
    " LEFT JOIN kiosks k ON k.token_id = t.id AND k.event_id = e.id"
)


def _known(conn: Connection, event_id: int, caller: Caller, now: float, row: Row) -> ScanOutcome | Scanner:
    """The stored answer, else the scanner, from a row of `_KNOWN_COLUMNS` (its kiosk: that of the caller's token)."""
    if row["stored_response"] is not None:
        return ScanOutcome(row["stored_response"], recorded=False)
    if caller.kiosk_token_id is not None and row["kiosk_id"] is not None:
        return Scanner(row["kiosk_name"], row["kiosk_id"])
    return _scanner(conn, event_id, caller, now)


def _scanner(conn: Connection, event_id: int, caller: Caller, now: float) -> Scanner:
    if caller.kiosk_token_id is None:
        return Scanner(caller.name)
    kiosk = kiosk_for_token(conn, event_id, caller.kiosk_token_id, caller.name, now)
    return Scanner(kiosk.name, kiosk.id)


_PRESENCE = "a.first_checked_in_at, a.first_kiosk, a.inside, a.last_moved_at"


def _find(conn: Connection, event: Event, scan: ScanRequest) -> tuple[_Target, Counts]:
    """The registrant a scan points at, with their attendance, and the event's counts, in one query (the
    writer's time is the door's)."""
    if scan.registrant_id is not None:
        row = conn.execute(
            f"SELECT r.*, {_PRESENCE}, {_COUNTS} FROM {_COUNTED}"
            " LEFT JOIN registrants r ON r.id = ? AND r.event_id = e.id"
            " LEFT JOIN attendance a ON a.registrant_id = r.id WHERE e.id = ?",
            (scan.registrant_id, event.id),
        ).fetchone()
        return (_Target(Result.UNKNOWN) if row["id"] is None else _found(row, False, None)), _counts_of(row)
    raw = rules.extract_code(scan.code or "")
    digest = text_hash(raw)
    # Look the code up first: a ticket we issued is well-formed, so only a miss needs the format check.
    row = conn.execute(
        f"SELECT t.revoked_at AS ticket_revoked_at, t.event_id AS ticket_event_id, r.*, {_PRESENCE}, {_COUNTS}"
        f" FROM {_COUNTED} LEFT JOIN tickets t ON t.code_hash = ? LEFT JOIN registrants r ON r.id = t.registrant_id"
        " LEFT JOIN attendance a ON a.registrant_id = r.id WHERE e.id = ?",
        (digest, event.id),
    ).fetchone()
    figures = _counts_of(row)
    if row["ticket_event_id"] is None:
        return _Target(rules.code_problem(raw, event.slug) or Result.UNKNOWN, code_hash=digest), figures
    if row["ticket_event_id"] != event.id:
        return _Target(Result.WRONG_EVENT, code_hash=digest), figures
    return _found(row, row["ticket_revoked_at"] is not None, digest), figures


def _found(row: Row, ticket_revoked: bool, code_hash: str | None) -> _Target:
    presence = None
    if row["first_checked_in_at"] is not None:
        presence = Presence(row["first_checked_in_at"], row["first_kiosk"], bool(row["inside"]), row["last_moved_at"])
    return _Target(None, people.registrant_from_row(row), ticket_revoked, code_hash, presence)


def _apply(conn: Connection, event_id: int, registrant_id: int, action: Action, at: float, kiosk: str) -> None:
    """Make the attendance change a decision calls for (the counts follow by trigger)."""
    if action is Action.ADMIT:
        conn.execute(
            "INSERT INTO attendance (registrant_id, event_id, first_checked_in_at, first_kiosk, inside, last_moved_at)"
            " VALUES (?, ?, ?, ?, 1, ?)",
            (registrant_id, event_id, at, kiosk, at),
        )
    elif action in (Action.REENTER, Action.EXIT):
        conn.execute(
            "UPDATE attendance SET inside = ?, last_moved_at = ? WHERE registrant_id = ?",
            (int(action is Action.REENTER), at, registrant_id),
        )
    elif action is Action.BACKDATE:
        standing = conn.execute(
            "SELECT first_checked_in_at FROM attendance WHERE registrant_id = ?", (registrant_id,)
        ).fetchone()[0]
        # The entry that stood until now becomes what it turned out to be: a duplicate.
        conn.execute(
            "UPDATE scans SET result = 'duplicate' WHERE event_id = ? AND registrant_id = ? AND direction = 'in'"
            " AND result = 'ok' AND scanned_at = ?",
            (event_id, registrant_id, standing),
        )
        conn.execute(
            "UPDATE attendance SET first_checked_in_at = ?, first_kiosk = ? WHERE registrant_id = ?",
            (at, kiosk, registrant_id),
        )


def _first(decision: Decision, presence: Presence | None, at: float, kiosk: str) -> tuple[float, str] | None:
    """The standing first check-in after the decision."""
    if decision.action in (Action.ADMIT, Action.BACKDATE):
        return at, kiosk
    return None if presence is None else (presence.first_checked_in_at, presence.first_kiosk)


def _log(
    conn: Connection,
    event: Event,
    scan: ScanRequest,
    scanner: Scanner,
    decision: Decision,
    registrant: Registrant | None,
    code_hash: str | None,
    times: tuple[float, float],
    answer: str,
) -> None:
    """Keep the attempt (whatever its result) and flag what an organiser must look at."""
    scanned_at, now = times
    conn.execute(
        "INSERT INTO scans (event_id, scan_id, kiosk, kiosk_id, registrant_id, code_hash, method, direction, result,"
        " scanned_at, received_at, response) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            event.id,
            scan.scan_id,
            scanner.name,
            scanner.kiosk_id,
            None if registrant is None else registrant.id,
            code_hash,
            scan.method.value,
            scan.direction.value,
            decision.log_result.value,
            scanned_at,
            now,
            answer,
        ),
    )
    flags = sorted(FLAGGED.intersection(decision.warnings))
    if flags and registrant is not None:
        detail: dict[str, object] = {"scan_id": scan.scan_id, "result": decision.result.value, "warnings": flags}
        audit(conn, event.id, now, scanner.name, "scan.flagged", registrant.ref_no, detail)


def record_scan(conn: Connection, event: Event, scan: ScanRequest, caller: Caller, now: float) -> ScanOutcome:
    """Decide one scan, change attendance accordingly and log the attempt; a known scan_id changes nothing."""
    stored = _stored_answer(conn, event.id, scan.scan_id)
    if stored is not None:
        return stored
    return _decide(conn, event, scan, _scanner(conn, event.id, caller, now), now)


def _decide(conn: Connection, event: Event, scan: ScanRequest, scanner: Scanner, now: float) -> ScanOutcome:
    scanned_at, clamped = rules.clamp_scanned_at(scan.scanned_at, now)
    target, figures = _find(conn, event, scan)
    registrant, presence = target.registrant, target.presence
    if scan.scanned_at is None and presence is not None:
        # A live scan happens when it is decided: what stands was decided before it, even if its time of
        # receipt is a moment earlier (another server's transaction committed in between).
        scanned_at = max(scanned_at, presence.last_moved_at)
    if target.problem is not None or registrant is None:
        decision = Decision(target.problem or Result.UNKNOWN)
    else:
        subject = Subject(registrant.mode, registrant.status, target.ticket_revoked)
        room = figures.room
        decision = rules.decide(subject, presence, scan.direction, scanned_at, room, scan.offline_decision, scan.admit)
        _apply(conn, event.id, registrant.id, decision.action, scanned_at, scanner.name)
        figures = figures.after(decision.action)
    decision = _adjusted(decision, clamped)
    first = _first(decision, presence, scanned_at, scanner.name)
    text = to_json(rules.answer(decision, scan.scan_id, registrant, first, figures, event.tz))
    _log(conn, event, scan, scanner, decision, registrant, target.code_hash, (scanned_at, now), text)
    return ScanOutcome(text, recorded=True)


def register_walkin(conn: Connection, event: Event, walkin: WalkIn, caller: Caller, now: float) -> ScanOutcome:
    """Register a walk-in and check them in at once, while the hall has a free seat."""
    scan = walkin.scan
    stored = _stored_answer(conn, event.id, scan.scan_id)
    if stored is not None:
        return stored
    scanner = _scanner(conn, event.id, caller, now)
    scanned_at, clamped = rules.clamp_scanned_at(scan.scanned_at, now)
    decision = _adjusted(rules.decide_walkin(counts(conn, event.id).room, scan.offline_decision), clamped)
    registrant = None
    if decision.action is Action.ADMIT:
        door = people.Walkin(scan.scan_id, scanner.name)
        registrant = people.register(conn, event, walkin.app, now, walkin=door).registrant
        _apply(conn, event.id, registrant.id, Action.ADMIT, scanned_at, scanner.name)
    first = (scanned_at, scanner.name) if registrant is not None else None
    text = to_json(rules.answer(decision, scan.scan_id, registrant, first, counts(conn, event.id), event.tz))
    _log(conn, event, scan, scanner, decision, registrant, None, (scanned_at, now), text)
    return ScanOutcome(text, recorded=True)


def scan_with_token(
    conn: Connection,
    slug: str,
    secret: str,
    data: dict[str, Any],
    now: float,
    admit: Callable[[Event, TokenInfo | None], Caller],
) -> ScanOutcome:
    """Event, token, permission and scan in ONE hand-off to the writer thread: the hot path of the door.

    Each SQLite call on the event loop lets the writer thread take the GIL; looking up the event and
    the token there, then handing the scan over, cost a quarter more CPU per scan than this. `admit`
    is the web's rule of who may scan: the caller a token scans as, or an error. The event, the token, the
    answer the scan_id already got and the token's kiosk are one statement (each is a round trip on
    PostgreSQL); the body is checked first, but a bad one is refused after the event and the token, as before.
    """
    try:
        scan: ScanRequest | None = rules.parse_scan(data)
    except Invalid as exc:  # raised where it was before: after the event and the token
        scan, invalid = None, exc
    scan_id = "" if scan is None else scan.scan_id
    event, token, row = event_and_token(conn, slug, secret, (_KNOWN_COLUMNS, _KNOWN_JOINS, (scan_id,)))
    caller = admit(event, token)
    if scan is None:
        raise invalid
    if caller.kiosk_token_id is not None and (token is None or caller.kiosk_token_id != token.id):
        return record_scan(conn, event, scan, caller, now)  # a kiosk other than the token's (never from the web)
    scanner = _known(conn, event.id, caller, now, row)
    return scanner if isinstance(scanner, ScanOutcome) else _decide(conn, event, scan, scanner, now)


def check_in_by_organiser(conn: Connection, event: Event, registrant: int, actor: str, now: float) -> ScanOutcome:
    """One manual scan, decided by the door's rules, and an audit entry saying who made it and what it gave."""
    person = people.get_registrant(conn, event.id, registrant)
    scan = ScanRequest(str(uuid.uuid4()), registrant_id=person.id, method=Method.SEARCH)
    outcome = record_scan(conn, event, scan, Caller(actor), now)
    audit(conn, event.id, now, actor, "checkin.admin", person.ref_no, {"result": str(outcome.body["result"])})
    return outcome


def _adjusted(decision: Decision, clamped: bool) -> Decision:
    """The decision, noting that the kiosk's time was moved into the sane window."""
    return replace(decision, warnings=(*decision.warnings, "scanned_at_adjusted")) if clamped else decision


def undo_checkin(conn: Connection, event: Event, registrant_id: int, actor: str, now: float) -> Counts:
    """Take back a mistaken check-in (the scans stay in the log; the undo goes to the audit log)."""
    row = conn.execute(
        "SELECT a.*, r.ref_no FROM attendance a JOIN registrants r ON r.id = a.registrant_id"
        " WHERE a.registrant_id = ? AND a.event_id = ?",
        (registrant_id, event.id),
    ).fetchone()
    if row is None:
        raise NotCheckedIn("this registrant is not checked in")
    conn.execute("DELETE FROM attendance WHERE registrant_id = ?", (registrant_id,))
    detail: dict[str, object] = {
        "first_checked_in_at": iso(row["first_checked_in_at"], event.tz),
        "first_kiosk": row["first_kiosk"],
    }
    audit(conn, event.id, now, actor, "checkin.undo", row["ref_no"], detail)
    return counts(conn, event.id)


def checked_in_times(conn: Connection, registrant_ids: Sequence[int]) -> dict[int, float]:
    """First check-in time per registrant, for those who have one."""
    if not registrant_ids:
        return {}
    marks = ", ".join("?" * len(registrant_ids))
    rows = conn.execute(
        f"SELECT registrant_id, first_checked_in_at FROM attendance WHERE registrant_id IN ({marks})",
        list(registrant_ids),
    ).fetchall()
    return {row[0]: row[1] for row in rows}


def search_at_door(
    conn: Connection, event_id: int, query: str, limit: int = 50
) -> list[tuple[Registrant, float | None]]:
    """Registrants matching a search, each with their first check-in time (or None)."""
    found = people.search(conn, event_id, query, limit)
    times = checked_in_times(conn, [r.id for r in found])
    return [(r, times.get(r.id)) for r in found]

"""Rules of the door: what one scan means, given the ticket, the registrant and their attendance. No I/O.

A scan is decided from plain facts (found by storage) and the time it happened; the decision names
the result the kiosk shows and the one change to attendance that follows. Offline scans arrive late
with the time they really happened (`scanned_at`), so every comparison is by that time: the earliest
entry stands as the first check-in and later ones are duplicates, whatever order they arrive in.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TypeVar
from zoneinfo import ZoneInfo

from checkin import tickets
from checkin.errors import Invalid
from checkin.models import Mode, Registrant, Status, iso, parse_iso
from checkin.registration import Application, validate

E = TypeVar("E", bound=enum.StrEnum)

MAX_SCAN_ID = 64
MAX_CODE = 512
MAX_QUEUE = 1_000_000
MAX_DECODE_FPS = 120.0  # frames a second a kiosk can decode; a camera gives 30-60
MAX_DECISION = 32
MAX_ROW_ID = 2**63 - 1
OFFLINE_ADMITTED = "ok"
# An offline kiosk may hold scans for a while, but not for days; a clock far ahead is never trusted.
MAX_OFFLINE_AGE = 24 * 3600.0


class Direction(enum.StrEnum):
    IN = "in"
    OUT = "out"


class Method(enum.StrEnum):
    CAMERA = "camera"
    WEDGE = "wedge"
    SEARCH = "search"
    WALKIN = "walkin"


class Result(enum.StrEnum):
    OK = "ok"
    ALREADY_CHECKED_IN = "already_checked_in"
    INVALID = "invalid"
    UNKNOWN = "unknown"
    REVOKED = "revoked"
    WRONG_EVENT = "wrong_event"
    VENUE_FULL = "venue_full"
    WAITLISTED = "waitlisted"  # on the waiting list: not admitted unless staff send the scan again with `admit`
    EXITED = "exited"
    NOT_CHECKED_IN = "not_checked_in"
    DUPLICATE = "duplicate"  # only in the scan log: a later entry of someone already in


# What an offline kiosk may say it answered, and we answer again: the results of the contract, never a
# value only the scan log holds.
SHOWN_RESULTS = frozenset(Result) - {Result.DUPLICATE}


class Action(enum.StrEnum):
    """The change to attendance a decision makes."""

    NONE = "none"
    ADMIT = "admit"  # first entry: the standing check-in
    REENTER = "reenter"  # back in after an exit
    EXIT = "exit"
    BACKDATE = "backdate"  # an earlier (offline) entry replaces the standing first check-in


@dataclass(frozen=True)
class ScanRequest:
    """One scan as a kiosk sent it, checked."""

    scan_id: str
    code: str | None = None
    registrant_id: int | None = None
    direction: Direction = Direction.IN
    method: Method = Method.CAMERA
    scanned_at: float | None = None
    offline_decision: str | None = None  # what the kiosk showed while offline (`ok`: the person went in)
    admit: bool = False  # staff admit a waitlisted person (only while the hall has room)

    @property
    def admitted_offline(self) -> bool:
        return self.offline_decision == OFFLINE_ADMITTED


@dataclass(frozen=True)
class Subject:
    """The registrant a scan points at."""

    mode: Mode
    status: Status
    ticket_revoked: bool = False

    @property
    def revoked(self) -> bool:
        return self.ticket_revoked or self.status is Status.CANCELLED

    @property
    def holds_seat(self) -> bool:
        """A registered venue registrant has a seat of their own; anyone else needs a free one."""
        return self.mode is Mode.VENUE and self.status is Status.REGISTERED


@dataclass(frozen=True)
class Presence:
    """A registrant's attendance: the standing first check-in and whether inside now."""

    first_checked_in_at: float
    first_kiosk: str
    inside: bool
    last_moved_at: float


@dataclass(frozen=True)
class Decision:
    result: Result
    action: Action = Action.NONE
    warnings: tuple[str, ...] = ()
    logged: Result | None = None  # what the scan log records, when it differs from `result`

    @property
    def log_result(self) -> Result:
        return self.logged or self.result


def parse_scan(data: Mapping[str, object]) -> ScanRequest:
    """Check a scan body; raise Invalid with a message per bad field."""
    errors: dict[str, str] = {}
    scan_id = _scan_id(data.get("scan_id"), errors)
    code, registrant_id = data.get("code"), data.get("registrant_id")
    if code is not None and not isinstance(code, str):
        errors["code"] = "type"
    if registrant_id is not None and not is_row_id(registrant_id):
        errors["registrant_id"] = "type"
    if (code is None) == (registrant_id is None):
        errors.setdefault("code", "one_of_code_or_registrant_id")
    direction = _choice(data, "direction", Direction, Direction.IN, errors)
    method = _choice(data, "method", Method, Method.SEARCH if registrant_id is not None else Method.CAMERA, errors)
    scanned_at, offline = _offline_fields(data, errors)
    admit = data.get("admit", False)
    if not isinstance(admit, bool):
        errors["admit"] = "type"
    if errors:
        raise Invalid("some fields are not valid", fields=errors)
    return ScanRequest(
        scan_id=scan_id,
        code=code[:MAX_CODE] if isinstance(code, str) else None,
        registrant_id=registrant_id if isinstance(registrant_id, int) else None,
        direction=direction,
        method=method,
        scanned_at=scanned_at,
        offline_decision=offline,
        admit=admit is True,
    )


def is_row_id(value: object) -> bool:
    """Whether a value can be a row id (a positive integer SQLite can hold)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ROW_ID


def _scan_id(value: object, errors: dict[str, str]) -> str:
    if not isinstance(value, str) or not value.strip():
        errors["scan_id"] = "required"
        return ""
    if len(value) > MAX_SCAN_ID:
        errors["scan_id"] = "too_long"
    return value.strip()


def _choice(data: Mapping[str, object], field: str, kind: type[E], default: E, errors: dict[str, str]) -> E:
    value = data.get(field)
    if value is None:
        return default
    if isinstance(value, str) and value in set(kind):
        return kind(value)
    errors[field] = "choice"
    return default


def _offline_fields(data: Mapping[str, object], errors: dict[str, str]) -> tuple[float | None, str | None]:
    """`scanned_at` and `offline_decision`, which a kiosk adds to what it queued while offline."""
    offline = data.get("offline_decision")
    if offline is not None and (not isinstance(offline, str) or len(offline) > MAX_DECISION):
        errors["offline_decision"] = "type"
    return _time(data.get("scanned_at"), errors), offline if isinstance(offline, str) else None


def _time(value: object, errors: dict[str, str], field: str = "scanned_at") -> float | None:
    if value is None:
        return None
    if isinstance(value, str) and len(value) <= 40:
        try:
            return parse_iso(value)
        except ValueError:
            pass
    errors[field] = "format"
    return None


@dataclass(frozen=True)
class Heartbeat:
    """A kiosk's report on itself."""

    queue_length: int = 0
    last_scan_at: float | None = None
    exit_mode: bool = False
    online: bool = True
    decode_fps: float | None = None  # camera frames the kiosk decoded per second; None when it does not say


def parse_heartbeat(data: Mapping[str, object]) -> Heartbeat:
    """Check a heartbeat body; raise Invalid with a message per bad field."""
    errors: dict[str, str] = {}
    queue_length = data.get("queue_length", 0)
    if not isinstance(queue_length, int) or isinstance(queue_length, bool) or not 0 <= queue_length <= MAX_QUEUE:
        errors["queue_length"] = "type"
        queue_length = 0
    last_scan_at = _time(data.get("last_scan_at"), errors, "last_scan_at")
    direction = _choice(data, "direction", Direction, Direction.IN, errors)
    online = data.get("online", True)
    if not isinstance(online, bool):
        errors["online"] = "type"
    decode_fps = data.get("decode_fps")
    if decode_fps is not None and (
        not isinstance(decode_fps, int | float)
        or isinstance(decode_fps, bool)
        or not 0 <= decode_fps <= MAX_DECODE_FPS  # also refuses NaN
    ):
        errors["decode_fps"] = "type"
        decode_fps = None
    if errors:
        raise Invalid("some fields are not valid", fields=errors)
    fps = None if decode_fps is None else round(float(decode_fps), 1)
    return Heartbeat(queue_length, last_scan_at, direction is Direction.OUT, bool(online), fps)


@dataclass(frozen=True)
class WalkIn:
    """A walk-in's details, and the scan fields that come with them (scan_id, offline time and decision)."""

    app: Application
    scan: ScanRequest


def parse_walkin(data: Mapping[str, object]) -> WalkIn:
    """Check a walk-in body (e-mail optional); raise Invalid with a message per bad field."""
    errors: dict[str, str] = {}
    scan_id = _scan_id(data.get("scan_id"), errors)
    scanned_at, offline = _offline_fields(data, errors)
    email = data.get("email")
    has_email = isinstance(email, str) and bool(email.strip())
    # The registration rules, with a stand-in address when the person gives none.
    fields = {**data, "mode": "venue", "email": email if has_email else "walk-in@example.com"}
    try:
        app = validate(fields)
    except Invalid as exc:
        raise Invalid("some fields are not valid", fields={**exc.fields, **errors}) from exc
    if errors:
        raise Invalid("some fields are not valid", fields=errors)
    scan = ScanRequest(scan_id, method=Method.WALKIN, scanned_at=scanned_at, offline_decision=offline)
    return WalkIn(app if has_email else replace(app, email=""), scan)


def clamp_scanned_at(claimed: float | None, now: float) -> tuple[float, bool]:
    """When the scan happened: the kiosk's time if it is sane, else the nearest sane one (and True)."""
    if claimed is None:
        return now, False
    sane = min(max(claimed, now - MAX_OFFLINE_AGE), now)
    return sane, sane != claimed


def extract_code(raw: str) -> str:
    """The ticket code in what was scanned; a ticket page address (…/t/CODE) also works."""
    text = raw.strip()
    if "/t/" in text:
        text = text.rsplit("/t/", 1)[1].split("?", 1)[0].split("#", 1)[0].removesuffix(".png")
    return text


def code_problem(raw: str, slug: str) -> Result | None:
    """INVALID or WRONG_EVENT when the text cannot be a ticket of this event; None when it may be."""
    problem = tickets.classify(raw, slug)
    if problem is tickets.CodeProblem.INVALID:
        return Result.INVALID
    if problem is tickets.CodeProblem.WRONG_EVENT:
        return Result.WRONG_EVENT
    return None


def decide(
    subject: Subject,
    presence: Presence | None,
    direction: Direction,
    scanned_at: float,
    room: int,
    offline_decision: str | None = None,
    admit: bool = False,
) -> Decision:
    """What a scan of a known registrant means, and what it changes; `room`: places free in the hall.

    The door policy: a registered venue registrant holds a seat and is always let in (`hall_full`
    tells staff when the hall reaches its capacity). Everyone else (an online registrant, a waitlisted
    person whom staff `admit`) takes a place only while the hall has room, else `venue_full`. A
    waitlisted person's scan without `admit` answers `waitlisted` and changes nothing.

    An offline kiosk's word stands for what happened at the door: `ok` means the person went in
    (recorded even where the server would have refused, and flagged); any other answer means they
    were turned away, so the scan is logged as the kiosk answered it (`unknown` for a word that is no
    result of ours) and changes nothing.
    """
    if direction is Direction.OUT:
        return _decide_exit(presence, scanned_at)
    admitted = offline_decision == OFFLINE_ADMITTED
    decision = _decide_entry(subject, presence, scanned_at, room, admitted, admit or admitted)
    if offline_decision is None or admitted or decision.action is Action.NONE:
        return decision
    # A word of the kiosk's own (`not_in_local_data`: it did not know the code) is not ours to repeat.
    shown = Result(offline_decision) if offline_decision in SHOWN_RESULTS else Result.UNKNOWN
    return Decision(shown, warnings=("refused_offline",))


def _decide_entry(
    subject: Subject, presence: Presence | None, scanned_at: float, room: int, admitted_offline: bool, admit: bool
) -> Decision:
    """An entry; `admit`: staff admit a waitlisted person (an offline kiosk that let them in did so)."""
    warnings: list[str] = []
    if subject.revoked:
        if not admitted_offline:
            return Decision(Result.REVOKED)
        warnings.append("admitted_offline_revoked")  # it happened: record it and flag it
    if presence is not None:
        if scanned_at < presence.first_checked_in_at:
            return Decision(Result.OK, Action.BACKDATE, (*warnings, "earlier_scan_stands"))
        if presence.inside or scanned_at < presence.last_moved_at:
            logged = Result.DUPLICATE if admitted_offline else None
            return Decision(Result.ALREADY_CHECKED_IN, warnings=tuple(warnings), logged=logged)
        warnings.append("reentry")
    elif subject.status is Status.WAITLISTED and not admit:
        return Decision(Result.WAITLISTED, warnings=tuple(warnings))
    if not subject.holds_seat:
        if room <= 0 and not admitted_offline:
            return Decision(Result.VENUE_FULL, warnings=tuple(warnings))
        if subject.mode is Mode.ONLINE:
            warnings.append("registered_online")
        if subject.status is Status.WAITLISTED:
            warnings.append("waitlisted")
    action = Action.ADMIT if presence is None else Action.REENTER
    return Decision(Result.OK, action, (*warnings, *hall_warnings(room)))


def hall_warnings(room: int) -> tuple[str, ...]:
    """After one more person goes in: `hall_full` once the hall is at capacity, `over_capacity` past it."""
    if room > 1:
        return ()
    return ("hall_full",) if room == 1 else ("hall_full", "over_capacity")


def _decide_exit(presence: Presence | None, scanned_at: float) -> Decision:
    if presence is None:
        return Decision(Result.NOT_CHECKED_IN)
    if not presence.inside:
        return Decision(Result.NOT_CHECKED_IN, warnings=("already_exited",))
    if scanned_at < presence.last_moved_at:
        # An exit that happened before the entry we already hold (a late offline scan): no change.
        return Decision(Result.EXITED, warnings=("out_of_order",))
    return Decision(Result.EXITED, Action.EXIT)


def decide_walkin(room: int, offline_decision: str | None = None) -> Decision:
    """A walk-in is registered and admitted while the hall has room (or an offline kiosk let them in)."""
    if offline_decision is not None and offline_decision != OFFLINE_ADMITTED:
        shown = Result(offline_decision) if offline_decision in SHOWN_RESULTS else Result.VENUE_FULL
        return Decision(shown, warnings=("refused_offline",))
    if room > 0 or offline_decision == OFFLINE_ADMITTED:
        return Decision(Result.OK, Action.ADMIT, ("walkin", *hall_warnings(room)))
    return Decision(Result.VENUE_FULL)


def door_view(registrant: Registrant) -> dict[str, object]:
    """What a kiosk shows of a registrant (no e-mail)."""
    return {
        "id": registrant.id,
        "ref_no": registrant.ref_no,
        "name": registrant.name,
        "kana": registrant.kana,
        "organisation": registrant.organisation,
        "mode": registrant.mode.value,
    }


@dataclass(frozen=True)
class Counts:
    """The venue figures a kiosk shows after each scan."""

    capacity: int
    checked_in: int
    in_hall: int
    hall_capacity: int  # the hall capacity in force (`Event.hall_limit`)

    @property
    def room(self) -> int:
        """Places free in the hall now: the hall capacity less the people in the hall."""
        return self.hall_capacity - self.in_hall

    def after(self, action: Action) -> Counts:
        """The figures once `action` is done (what the attendance triggers count): a first check-in adds one
        checked in and one in the hall, a re-entry one in the hall, an exit takes one out; a backdated first
        check-in changes neither."""
        if action is Action.ADMIT:
            return replace(self, checked_in=self.checked_in + 1, in_hall=self.in_hall + 1)
        if action is Action.REENTER:
            return replace(self, in_hall=self.in_hall + 1)
        if action is Action.EXIT:
            return replace(self, in_hall=self.in_hall - 1)
        return self


def answer(
    decision: Decision,
    scan_id: str,
    registrant: Registrant | None,
    first: tuple[float, str] | None,
    counts: Counts,
    tz: ZoneInfo,
) -> dict[str, object]:
    """The JSON answer to a scan (also what a retry with the same scan_id gets back)."""
    body: dict[str, object] = {"result": decision.result.value, "scan_id": scan_id}
    if registrant is not None:
        body["registrant"] = door_view(registrant)
    if first is not None:
        body["first_checked_in_at"] = iso(first[0], tz)
        body["first_kiosk"] = first[1]
    body.update(warnings=list(decision.warnings), in_hall=counts.in_hall, checked_in=counts.checked_in)
    body["hall_capacity"] = counts.hall_capacity
    return body

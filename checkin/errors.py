"""Errors with a stable machine-readable code, an HTTP status and, from the status, a websocket close code."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

from checkin.i18n import translate

if TYPE_CHECKING:
    from checkin.csvio import ImportReport

# The close code a refused or ended websocket carries, by the error's status: the pages stop, or retry
# slowly, on these (docs/WATCH.md, docs/DASHBOARD.md). Another client error closes with 4400.
CLOSE_CODES = {401: 4401, 403: 4403, 404: 4404, 429: 4429}
TRY_AGAIN_LATER = 1013  # any 5xx: the server cannot take it now, and a retry may succeed


class CheckinError(Exception):
    """Base: every error a user may see has a code, a status and a human message."""

    code = "error"
    status = 400
    close_code: int | None = None  # only where a socket must say more than its status (socket_close_code)

    def __init__(self, message: str = "", *, fields: Mapping[str, str] | None = None) -> None:
        super().__init__(message or self.code)
        self.message = message or self.code
        self.fields = dict(fields or {})
        self.headers: dict[str, str] = {}

    def as_json(self) -> dict[str, object]:
        """The error shape of the HTTP contract."""
        body: dict[str, object] = {"error": self.code, "message": self.message}
        if self.fields:
            body["fields"] = self.fields
        return body


def socket_close_code(error: CheckinError) -> int:
    """The websocket close code that tells a page about this error: one rule for every socket."""
    if error.close_code is not None:
        return error.close_code
    if error.status >= 500:
        return TRY_AGAIN_LATER
    return CLOSE_CODES.get(error.status, 4400)


class Invalid(CheckinError):
    code = "invalid"
    status = 422


class BadRequest(CheckinError):
    code = "bad_request"
    status = 400


class PayloadTooLarge(CheckinError):
    code = "payload_too_large"
    status = 413


class NotFound(CheckinError):
    code = "not_found"
    status = 404


class EventNotFound(NotFound):
    code = "event_not_found"


class Unauthorized(CheckinError):
    code = "unauthorized"
    status = 401


class Forbidden(CheckinError):
    code = "forbidden"
    status = 403


class Conflict(CheckinError):
    code = "conflict"
    status = 409


class DuplicateEmail(Conflict):
    code = "duplicate_email"


class VenueFull(Conflict):
    code = "venue_full"


class RegistrationClosed(Conflict):
    code = "registration_closed"


class AlreadyExists(Conflict):
    code = "already_exists"


class RegistrantNotFound(NotFound):
    code = "registrant_not_found"


class NotCheckedIn(NotFound):
    code = "not_checked_in"


class PairingFailed(NotFound):
    code = "pairing_code_invalid"


class RateLimited(CheckinError):
    """Too many requests from one client: try again after `retry_after` seconds (the Retry-After header)."""

    code = "rate_limited"
    status = 429

    def __init__(self, wait: float) -> None:
        self.retry_after = max(1, math.ceil(wait))
        super().__init__(f"too many requests; try again in {self.retry_after} s")
        self.headers["Retry-After"] = str(self.retry_after)

    def as_json(self) -> dict[str, object]:
        return {**super().as_json(), "retry_after": self.retry_after}


class TicketRevoked(CheckinError):
    code = "ticket_revoked"
    status = 410


class StorageUnavailable(CheckinError):
    """The database's disk is full, read-only or failing: nothing was saved, and a retry may succeed."""

    code = "storage_unavailable"
    status = 503
    retry_after = 5  # seconds, sent as Retry-After


class FileProblem(Invalid):
    """The file as a whole cannot be read (encoding, headers); nothing of it is imported."""

    code = "csv_invalid"

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(f"{translate(key, 'ja', **values)} / {translate(key, 'en', **values)}")
        self.key = key
        self.values = values

    def text(self, lang: str) -> str:
        return translate(self.key, lang, **self.values)


class ImportRejected(CheckinError):
    """Raised inside the write to roll the whole import back; carries the report."""

    code = "import_rejected"
    status = 422

    def __init__(self, report: ImportReport) -> None:
        super().__init__("import rejected")
        self.report = report


class EventPurged(Conflict):
    code = "event_purged"


class RefConflict(Conflict):
    code = "ref_conflict"


class CapacityBelowSeats(Conflict):
    """Capacity may not fall below the seats already given."""

    code = "capacity_below_seats"

    def __init__(self, taken: int) -> None:
        super().__init__(f"{taken} venue seats are taken; capacity cannot be lower")
        self.taken = taken


class NotEnded(Conflict):
    code = "event_not_ended"


class CsrfFailed(Forbidden):
    code = "csrf_failed"


class NotAViewer(Forbidden):
    """A watch connection that names no valid viewer of this event; `code` is a stable reason."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class Refusal(enum.StrEnum):
    """Why a watch connection is not taken."""

    TOO_MANY_CONNECTIONS = "too_many_connections"
    TOO_MANY_ANONYMOUS = "too_many_anonymous"
    SERVER_FULL = "server_full"


class Refused(CheckinError):
    """A watch connection not taken: too many of one viewer or one address (429), or a full server (503)."""

    status = 429

    def __init__(self, reason: Refusal) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.code = reason.value
        if reason is Refusal.SERVER_FULL:
            self.status = 503


class MessagesTooFast(CheckinError):
    """A watch socket that sends faster than its rate: closed with 4408, after which the page simply
    reconnects (4429 would tell its viewer to close other tabs)."""

    code = "rate_limited"
    status = 429
    close_code = 4408


class DeliveryError(CheckinError):
    """A message that did not (certainly) leave.

    `certain`: the server refused it or was never reached, so it may be sent again; otherwise it
    may have left. `connection`: the trouble is the server or outbox, not this recipient.
    """

    code = "delivery_failed"
    status = 502

    def __init__(self, reason: str, *, certain: bool, connection: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.certain = certain
        self.connection = connection

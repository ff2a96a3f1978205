"""Errors with a stable machine-readable code and an HTTP status."""

from __future__ import annotations

import math
from collections.abc import Mapping


class CheckinError(Exception):
    """Base: every error a user may see has a code, a status and a human message."""

    code = "error"
    status = 400

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

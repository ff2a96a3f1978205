"""Coded errors: one rule turns an error's HTTP status into the close code a websocket ends with."""

from __future__ import annotations

import pytest

from checkin.errors import (
    BadRequest,
    CheckinError,
    CsrfFailed,
    EventNotFound,
    Forbidden,
    Invalid,
    MessagesTooFast,
    NotAViewer,
    RateLimited,
    Refusal,
    Refused,
    StorageUnavailable,
    Unauthorized,
    socket_close_code,
)


@pytest.mark.parametrize(
    ("error", "close_code"),
    [
        (Unauthorized(), 4401),
        (Forbidden(), 4403),
        (CsrfFailed(), 4403),
        (NotAViewer("revoked"), 4403),
        (EventNotFound(), 4404),
        (Refused(Refusal.TOO_MANY_CONNECTIONS), 4429),
        (Refused(Refusal.TOO_MANY_ANONYMOUS), 4429),
        (RateLimited(3), 4429),
        (Refused(Refusal.SERVER_FULL), 1013),
        (StorageUnavailable(), 1013),
        (MessagesTooFast(), 4408),
        (BadRequest(), 4400),
        (Invalid(), 4400),
    ],
)
def test_close_code_follows_the_status(error: CheckinError, close_code: int) -> None:
    """401, 403, 404 and 429 become 44xx, any 5xx 1013 (try again later), other client errors 4400."""
    assert socket_close_code(error) == close_code


def test_a_refused_connection_says_its_reason() -> None:
    """A refusal's code is its reason; a full server is a 503, a cap a 429."""
    full, capped = Refused(Refusal.SERVER_FULL), Refused(Refusal.TOO_MANY_ANONYMOUS)
    assert (full.code, full.status, full.reason) == ("server_full", 503, Refusal.SERVER_FULL)
    assert (capped.code, capped.status) == ("too_many_anonymous", 429)
    assert Refused.status == 429  # the instance's status does not leak into the class


def test_not_a_viewer_is_forbidden_with_its_reason() -> None:
    """Each reason a watch link is refused is the error's code, sent as the socket's close reason."""
    error = NotAViewer("wrong_event")
    assert (error.code, error.status, error.as_json()["error"]) == ("wrong_event", 403, "wrong_event")

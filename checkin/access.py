"""Who may do what: the caller a credential stands for, and the check of its role against an event.

No HTTP here: `checkin.web.auth` reads the credential from a request and hands it to these.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

from checkin.errors import Forbidden, Unauthorized
from checkin.models import Event, Role


class Token(Protocol):
    """What a caller needs of a stored API token (`checkin.storage.staff.TokenInfo`)."""

    @property
    def id(self) -> int: ...

    @property
    def role(self) -> Role: ...

    @property
    def name(self) -> str: ...

    @property
    def event_id(self) -> int | None: ...


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a token (bound to an event or not) or a logged-in organiser."""

    role: Role
    name: str
    event_id: int | None = None
    token_id: int | None = None
    user_id: int | None = None
    csrf: str | None = None  # the session's form token (cookie sessions only)

    def may(self, roles: Collection[Role], event: Event | None) -> bool:
        """Whether this caller has one of the roles, for this event."""
        if self.role not in roles:
            return False
        return event is None or self.event_id is None or self.event_id == event.id

    @property
    def actor(self) -> str:
        """How the audit log names this caller."""
        return f"user:{self.name}" if self.user_id is not None else f"token:{self.name}"


def token_principal(token: Token | None) -> Principal | None:
    """The caller behind a live API token (None for an unknown or revoked one)."""
    if token is None:
        return None
    return Principal(role=token.role, name=token.name, event_id=token.event_id, token_id=token.id)


def authorise(principal: Principal | None, roles: Collection[Role], event: Event | None = None) -> Principal:
    """The caller, if it may act with one of these roles on this event; else 401 or 403."""
    if principal is None:
        raise Unauthorized("a valid token or login is required")
    if not principal.may(roles, event):
        raise Forbidden("this credential may not do that")
    return principal

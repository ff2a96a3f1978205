"""Who is calling: API tokens (Bearer header, or ?token= on websockets) and staff sessions."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from starlette.requests import HTTPConnection

from checkin.errors import Forbidden, Unauthorized
from checkin.models import Event, Role
from checkin.storage.staff import TokenInfo, resolve_token
from checkin.web.common import services

MAX_SECRET = 200


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a token (bound to an event or not) or a logged-in organiser."""

    role: Role
    name: str
    event_id: int | None = None
    token_id: int | None = None
    user_id: int | None = None

    def may(self, roles: Collection[Role], event: Event | None) -> bool:
        """Whether this caller has one of the roles, for this event."""
        if self.role not in roles:
            return False
        return event is None or self.event_id is None or self.event_id == event.id


def _bearer(conn: HTTPConnection) -> str | None:
    header = conn.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if conn.scope["type"] == "websocket":
        return conn.query_params.get("token") or None
    return None


def bearer_secret(conn: HTTPConnection) -> str | None:
    """The API token a request carries, or None (an over-long one is none of ours)."""
    secret = _bearer(conn)
    return None if secret is None or len(secret) > MAX_SECRET else secret


def token_principal(token: TokenInfo | None) -> Principal | None:
    """The caller behind a live API token (None for an unknown or revoked one)."""
    if token is None:
        return None
    return Principal(role=token.role, name=token.name, event_id=token.event_id, token_id=token.id)


async def authenticate(conn: HTTPConnection) -> Principal | None:
    """The caller behind this request, or None."""
    secret = bearer_secret(conn)
    if secret is None:
        return None
    return token_principal(services(conn).db.lookup(resolve_token, secret))


def authorise(principal: Principal | None, roles: Collection[Role], event: Event | None = None) -> Principal:
    """The caller, if it may act with one of these roles on this event; else 401 or 403."""
    if principal is None:
        raise Unauthorized("a valid token or login is required")
    if not principal.may(roles, event):
        raise Forbidden("this credential may not do that")
    return principal


async def require(conn: HTTPConnection, roles: Collection[Role], event: Event | None = None) -> Principal:
    """The caller, if it may act with one of these roles on this event; else 401 or 403."""
    return authorise(await authenticate(conn), roles, event)

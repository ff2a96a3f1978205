"""Who is calling: API tokens (Bearer header, or ?token= on websockets) and staff sessions."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from starlette.requests import HTTPConnection

from checkin.errors import Forbidden, Unauthorized
from checkin.models import Event, Role
from checkin.storage.staff import resolve_token
from checkin.web.common import services


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


async def authenticate(conn: HTTPConnection) -> Principal | None:
    """The caller behind this request, or None."""
    secret = _bearer(conn)
    if secret is None or len(secret) > 200:
        return None
    token = services(conn).db.lookup(resolve_token, secret)
    if token is None:
        return None
    return Principal(role=token.role, name=token.name, event_id=token.event_id, token_id=token.id)


async def require(conn: HTTPConnection, roles: Collection[Role], event: Event | None = None) -> Principal:
    """The caller, if it may act with one of these roles on this event; else 401 or 403."""
    principal = await authenticate(conn)
    if principal is None:
        raise Unauthorized("a valid token or login is required")
    if not principal.may(roles, event):
        raise Forbidden("this credential may not do that")
    return principal

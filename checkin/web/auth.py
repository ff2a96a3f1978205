"""Who is calling: API tokens (Bearer header, or ?token= on websockets) and staff sessions (cookie).

A session cookie is sent by the browser on its own, so every unsafe request that relies on one must
carry the session's CSRF token: form field `csrf`, or header `X-CSRF-Token` for JSON calls. A bearer
token is never sent implicitly and needs none. A websocket with a cookie must come from our origin.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection
from urllib.parse import quote, urlsplit

from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request

from checkin.access import Principal, authorise, token_principal
from checkin.errors import CsrfFailed, Forbidden
from checkin.models import Event, Role
from checkin.storage.staff import resolve_token
from checkin.storage.users import resolve_session
from checkin.web.common import services
from checkin.web.forms import is_form, read_form

SESSION_COOKIE = "checkin_session"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
LOGIN_PATH = "/admin/login"
MAX_SECRET = 200


def _bearer(conn: HTTPConnection) -> str | None:
    header = conn.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if conn.scope["type"] == "websocket":
        return conn.query_params.get("token") or None
    return None


def same_origin(conn: HTTPConnection) -> bool:
    """Whether a browser's Origin (when it sent one) is this server."""
    origin = conn.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == conn.headers.get("host")


async def check_csrf(request: Request, expected: str) -> None:
    """CsrfFailed unless the request carries `expected` in the X-CSRF-Token header or the form."""
    given = request.headers.get(CSRF_HEADER)
    if given is None and is_form(request):
        value = (await read_form(request)).get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if given is None or not secrets.compare_digest(given.encode(), expected.encode()):
        raise CsrfFailed("the form is out of date or did not come from this site")


def secure_cookies(conn: HTTPConnection) -> bool:
    """Whether cookies set on this request are Secure: it came over HTTPS (to us, or to a proxy named in
    CHECKIN_TRUSTED_PROXIES, whose X-Forwarded-Proto uvicorn applied), the site's address is https, or
    CHECKIN_SECURE_COOKIES forces it."""
    settings = services(conn).settings
    return settings.secure_cookies or conn.url.scheme == "https" or settings.base_url.startswith("https://")


def bearer_secret(conn: HTTPConnection) -> str | None:
    """The API token a request carries, or None (an over-long one is none of ours)."""
    secret = _bearer(conn)
    return None if secret is None or len(secret) > MAX_SECRET else secret


async def authenticate(conn: HTTPConnection) -> Principal | None:
    """The caller behind this request, or None (CsrfFailed for a cookie request without its token)."""
    if _bearer(conn) is not None:
        secret = bearer_secret(conn)
        return None if secret is None else token_principal(await services(conn).db.lookup(resolve_token, secret))
    session_id = conn.cookies.get(SESSION_COOKIE)
    if not session_id or len(session_id) > MAX_SECRET:
        return None
    svc = services(conn)
    session = await svc.db.lookup(resolve_session, session_id, svc.now())
    if session is None or (conn.scope["type"] == "websocket" and not same_origin(conn)):
        return None
    if isinstance(conn, Request) and conn.method in UNSAFE_METHODS:
        await check_csrf(conn, session.csrf)
    return Principal(role=session.role, name=session.login, user_id=session.user_id, csrf=session.csrf)


async def require(conn: HTTPConnection, roles: Collection[Role], event: Event | None = None) -> Principal:
    """The caller, if it may act with one of these roles on this event; else 401 or 403."""
    return authorise(await authenticate(conn), roles, event)


def login_url(request: Request) -> str:
    """The login page, coming back to this page afterwards (a GET; after a form, to the admin's start)."""
    target = request.url.path if request.method == "GET" else "/admin"
    if request.method == "GET" and request.url.query:
        target += "?" + request.url.query
    return f"{LOGIN_PATH}?next={quote(target, safe='')}"


async def require_page(request: Request, event: Event | None = None) -> Principal:
    """An organiser, for an HTML page; without a valid login, a redirect to the login page (not a 401)."""
    principal = await authenticate(request)
    if principal is None:
        raise HTTPException(303, headers={"Location": login_url(request)})
    if not principal.may({Role.ORGANISER}, event):
        raise Forbidden("this credential may not open the organisers' pages")
    return principal

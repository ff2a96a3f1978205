"""Organisers' login and logout: password check off the loop, limits per address and login, the session cookie.

The login form has no session yet, so its CSRF token is a double-submit cookie: the page sets a
random cookie and puts the same value in the form; a cross-site form cannot read it to copy it.
"""

from __future__ import annotations

import asyncio
import math
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from checkin import ratelimit, staff
from checkin.access import Principal
from checkin.errors import RateLimited
from checkin.ratelimit import RateLimits, address_key
from checkin.storage import users
from checkin.web.adminkit import admin_page, page
from checkin.web.auth import CSRF_FIELD, LOGIN_PATH, SESSION_COOKIE, authenticate, secure_cookies
from checkin.web.common import client_address, services
from checkin.web.forms import read_form, text_field
from checkin.web.templating import language

LOGIN_CSRF_COOKIE = "checkin_login_csrf"
HOME = "/admin"


@dataclass(frozen=True)
class Attempt:
    """What was typed into the login form."""

    login: str
    password: str
    target: str


def safe_target(value: str) -> str:
    """Where to go after login: a path of the admin on this site, never another site."""
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or "\\" in value or not value.startswith(HOME) or value.startswith(LOGIN_PATH):
        return HOME
    return value


def _cookie(response: Response, request: Request, name: str, value: str, max_age: int, path: str) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=path,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
    )


def login_page(
    request: Request, status: int = 200, error: str = "", login: str = "", target: str = "", minutes: int = 0
) -> Response:
    """The login form with a fresh double-submit token (and the error of the last try, if any)."""
    token = staff.new_secret()
    target = safe_target(target or request.query_params.get("next", HOME))
    context = {"csrf": token, "error": error, "login": login, "target": target, "minutes": minutes}
    response = page(request, None, "admin/login.html", status, **context)
    _cookie(response, request, LOGIN_CSRF_COOKIE, token, 3600, LOGIN_PATH)
    return response


async def show_login(request: Request) -> Response:
    """GET /admin/login: the form (or straight on, when already logged in)."""
    principal = await authenticate(request)
    if principal is not None and principal.user_id is not None:
        return RedirectResponse(safe_target(request.query_params.get("next", HOME)), status_code=303)
    return login_page(request)


async def _verify(request: Request, attempt: Attempt) -> users.User | None:
    """The user, when the password is right (always one slow hash check, known login or not)."""
    svc = services(request)
    key = staff.login_key(attempt.login)
    user = await svc.db.read(users.find_user, key) if key else None
    stored = user.password_hash if user is not None and not user.disabled else staff.dummy_hash()
    loop = asyncio.get_running_loop()
    ok = await loop.run_in_executor(svc.blocking, staff.verify_password, stored, attempt.password)
    if not ok or user is None or user.disabled:
        return None
    if staff.needs_rehash(user.password_hash):
        fresh = await loop.run_in_executor(svc.blocking, staff.hash_password, attempt.password)
        await svc.writes.store(users.rehash_password, user.id, user.password_hash, fresh)
    return user


def failures_key(login_key: str, address: str) -> str:
    """The key of one login's failures from one client address."""
    return f"{address} {login_key}"


async def throttle(limits: RateLimits, login_key: str, address: str) -> None:
    """Count a login attempt, or refuse it (RateLimited) before the password is checked.

    Each try counts against its address (any login) and, until the password proves right, as a failure
    of this login from this address, so parallel guesses cannot slip past. A login guessed at from many
    addresses keeps out only the addresses that failed on it: its owner, from a clean address, gets in.
    """
    await limits.hit(ratelimit.LOGIN_ADDRESS, address)
    mine = failures_key(login_key, address)
    wait = await limits.wait(ratelimit.LOGIN_ANYWHERE, login_key)
    if wait > 0 and await limits.used(ratelimit.LOGIN_FAILURES, mine):
        limits.refuse(ratelimit.LOGIN_ANYWHERE, mine, wait, who=address)
    await limits.hit(ratelimit.LOGIN_FAILURES, mine, who=address)


async def do_login(request: Request) -> Response:
    """POST /admin/login: check the form token, the throttle and the password; then open a session."""
    form = await read_form(request)
    attempt = Attempt(text_field(form, "login")[:200], text_field(form, "password"), text_field(form, "next"))
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not secrets.compare_digest(text_field(form, CSRF_FIELD).encode(), expected.encode()):
        return login_page(request, 403, "admin.login.stale", attempt.login, attempt.target)
    svc = services(request)
    address = client_address(request.scope)
    key = staff.login_key(attempt.login)
    try:
        await throttle(svc.limits, key, address_key(address))
    except RateLimited as exc:
        minutes = max(1, math.ceil(exc.retry_after / 60))
        response = login_page(request, 429, "admin.login.throttled", attempt.login, attempt.target, minutes)
        response.headers.update(exc.headers)
        return response
    user = await _verify(request, attempt)
    if user is None:
        await svc.limits.count(ratelimit.LOGIN_ANYWHERE, key)
        await svc.writes.store(users.login_failed, attempt.login, address, svc.now())
        return login_page(request, 401, "admin.login.failed", attempt.login, attempt.target)
    await svc.limits.clear(ratelimit.LOGIN_FAILURES, failures_key(key, address_key(address)))
    session_id, now = staff.new_secret(), svc.now()
    await svc.writes.store(users.create_session, user, session_id, staff.new_secret(), now, now + staff.SESSION_SECONDS)
    response = RedirectResponse(safe_target(attempt.target), status_code=303)
    _cookie(response, request, SESSION_COOKIE, session_id, staff.SESSION_SECONDS, "/")
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=LOGIN_PATH)
    return response


@admin_page
async def do_logout(request: Request, principal: Principal) -> Response:
    """POST /admin/logout (with the session's CSRF token): end the session, forget the cookie."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if principal.user_id is not None and session_id:
        await services(request).writes.store(users.end_session, session_id)
    response = RedirectResponse(f"{LOGIN_PATH}?lang={language(request)}", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


routes: list[BaseRoute] = [
    Route(LOGIN_PATH, show_login, methods=["GET"]),
    Route(LOGIN_PATH, do_login, methods=["POST"]),
    Route("/admin/logout", do_logout, methods=["POST"]),
]

"""What every organisers' page shares: the login check, HTML error pages, rendering and redirects."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from checkin.access import Principal
from checkin.errors import CheckinError, Forbidden
from checkin.i18n import catalog, translate
from checkin.models import Event, Role
from checkin.web.auth import require_page
from checkin.web.common import event_of
from checkin.web.templating import language, render

TABS = ("registrants", "addresses", "settings", "files", "tickets", "kiosks", "tokens", "audit")
PageHandler = Callable[[Request, Principal], Awaitable[Response]]
EventHandler = Callable[[Request, Principal, Event], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


def notices(request: Request) -> list[str]:
    """What the last form did (`?done=`, and `?promoted=` people moved up from the waiting list)."""
    lang, done, promoted = language(request), request.query_params.get("done", ""), request.query_params.get("promoted")
    found = [translate(f"admin.done.{done}", lang)] if f"admin.done.{done}" in catalog() else []
    if found and promoted and promoted.isdigit() and int(promoted) > 0:
        found.append(translate("admin.done.promoted", lang, count=int(promoted)))
    return found


def page(
    request: Request, principal: Principal | None, template: str, status: int = 200, **context: object
) -> Response:
    """An admin page: the caller (for the menu and the forms' CSRF token), never cached."""
    csrf = principal.csrf if principal is not None else None
    context = {"me": principal, "csrf": csrf or "", "notices": notices(request), "tabs": TABS, **context}
    response = render(request, template, context, status_code=status)
    response.headers["cache-control"] = "no-store"
    return response


def error_page(request: Request, exc: CheckinError, principal: Principal | None = None) -> Response:
    """A refused request as an HTML page with its status (403 for a missing form token, 404, 409...)."""
    return page(request, principal, "admin/error.html", exc.status, error=exc, message=error_text(exc, request))


def error_text(exc: CheckinError, request: Request) -> str:
    """What went wrong, in the visitor's language (a generic sentence for codes without their own)."""
    key = f"admin.error.{exc.code}"
    values = {"taken": getattr(exc, "taken", "")}
    return translate(key if key in catalog() else "admin.error.other", language(request), **values)


def admin_page(handler: PageHandler) -> Endpoint:
    """An endpoint for organisers: a login page for strangers, HTML errors for refusals."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        try:
            principal = await require_page(request)
        except CheckinError as exc:
            return error_page(request, exc)
        try:
            return await handler(request, principal)
        except CheckinError as exc:
            return error_page(request, exc, principal)

    return endpoint


def event_page(handler: EventHandler) -> Endpoint:
    """An organisers' endpoint about the event of the path's slug (a token of another event is refused)."""

    async def with_event(request: Request, principal: Principal) -> Response:
        event = await event_of(request)
        if not principal.may({Role.ORGANISER}, event):
            raise Forbidden("this credential is for another event")
        return await handler(request, principal, event)

    return admin_page(with_event)


def page_number(request: Request) -> int:
    """The ?page= asked for (1 when missing or junk)."""
    raw = request.query_params.get("page", "1")
    return int(raw) if raw.isdigit() and len(raw) < 7 and int(raw) > 0 else 1

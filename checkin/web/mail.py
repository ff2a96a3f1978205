"""Re-sending a ticket by e-mail: the public form and its JSON twin.

Both answer the same whether or not the address is registered, and the lookup and the sending run
after the answer has gone (a background task), so neither the text nor the timing tells who registered.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from checkin import mailer, ratelimit
from checkin.errors import Invalid, RateLimited
from checkin.models import Event
from checkin.ratelimit import address_key
from checkin.registration import MAX_EMAIL, normal_email
from checkin.web.common import client_address, event_of, read_body, read_json, services
from checkin.web.templating import render


def one_email(value: object) -> str | None:
    """The one address typed, normalised as registration stores it; None when it is not one address."""
    if not isinstance(value, str) or len(value) > MAX_EMAIL:
        return None
    return normal_email(value)


async def _limit(request: Request) -> None:
    """Count a re-send request of this client address (RateLimited past the limit)."""
    await services(request).limits.hit(ratelimit.RESEND, address_key(client_address(request.scope)))


def _resend_later(request: Request, event: Event, email: str) -> BackgroundTask:
    return BackgroundTask(mailer.resend, services(request), event, email)


async def resend_form(request: Request) -> Response:
    """The form: one field, the registered e-mail address."""
    event = await event_of(request)
    return render(request, "mail_resend.html", {"event": event, "email": "", "invalid": False, "done": False})


async def resend_page(request: Request) -> Response:
    """Re-send the ticket if the address is registered; the same page either way."""
    event = await event_of(request)
    body = await read_body(request, services(request).settings.max_body_bytes)
    try:
        fields = parse_qs(body.decode("utf-8", errors="replace"), max_num_fields=10)
    except ValueError:
        fields = {}
    raw = (fields.get("email") or [""])[0]
    try:
        await _limit(request)
    except RateLimited as exc:
        context = {"event": event, "email": raw[:MAX_EMAIL], "invalid": False, "done": False, "wait": exc.retry_after}
        response = render(request, "mail_resend.html", context, status_code=exc.status)
        response.headers.update(exc.headers)
        return response
    email = one_email(raw)
    if email is None:
        context = {"event": event, "email": raw[:MAX_EMAIL], "invalid": True, "done": False}
        return render(request, "mail_resend.html", context, status_code=422)
    response = render(request, "mail_resend.html", {"event": event, "email": "", "invalid": False, "done": True})
    response.background = _resend_later(request, event, email)
    return response


async def resend_api(request: Request) -> JSONResponse:
    """JSON: `{"email": ...}` → 202 whether or not the address is registered."""
    event = await event_of(request)
    await _limit(request)
    email = one_email((await read_json(request)).get("email"))
    if email is None:
        raise Invalid("not an e-mail address", fields={"email": "format"})
    return JSONResponse({"status": "accepted"}, status_code=202, background=_resend_later(request, event, email))


routes: list[BaseRoute] = [
    Route("/e/{slug}/resend", resend_form, methods=["GET"]),
    Route("/e/{slug}/resend", resend_page, methods=["POST"]),
    Route("/api/v1/events/{slug}/resend", resend_api, methods=["POST"]),
]

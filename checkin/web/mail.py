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

from checkin import mailer
from checkin.errors import Invalid
from checkin.models import Event
from checkin.registration import MAX_EMAIL
from checkin.text import nfkc
from checkin.web.common import event_of, read_body, read_json, services
from checkin.web.templating import render


def plausible_email(value: object) -> str | None:
    """The address, tidied, if it could be one; None otherwise (the real check is the lookup)."""
    if not isinstance(value, str):
        return None
    email = nfkc(value)
    local, at, domain = email.partition("@")
    return email if at and local and "." in domain and len(email) <= MAX_EMAIL and " " not in email else None


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
    email = plausible_email(raw)
    if email is None:
        context = {"event": event, "email": raw[:MAX_EMAIL], "invalid": True, "done": False}
        return render(request, "mail_resend.html", context, status_code=422)
    response = render(request, "mail_resend.html", {"event": event, "email": "", "invalid": False, "done": True})
    response.background = _resend_later(request, event, email)
    return response


async def resend_api(request: Request) -> JSONResponse:
    """JSON: `{"email": ...}` → 202 whether or not the address is registered."""
    event = await event_of(request)
    email = plausible_email((await read_json(request)).get("email"))
    if email is None:
        raise Invalid("not an e-mail address", fields={"email": "format"})
    return JSONResponse({"status": "accepted"}, status_code=202, background=_resend_later(request, event, email))


routes: list[BaseRoute] = [
    Route("/e/{slug}/resend", resend_form, methods=["GET"]),
    Route("/e/{slug}/resend", resend_page, methods=["POST"]),
    Route("/api/v1/events/{slug}/resend", resend_api, methods=["POST"]),
]

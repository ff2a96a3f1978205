"""Public pages: the event with its registration form (`/e/{slug}/`) and the ticket (`/t/{code}`).

Forms are plain HTML posts that work without JavaScript and call the same domain code as the JSON
API. Ticket pages carry the code in their URL, so they are never cached by shared caches nor indexed,
and an unknown code says nothing beyond "not found".
"""

from __future__ import annotations

import functools
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from checkin import ics, mailer, ratelimit, tickets
from checkin.calendarlinks import calendar_links
from checkin.display import format_datetime
from checkin.errors import (
    CheckinError,
    DuplicateEmail,
    EventNotFound,
    NotFound,
    RateLimited,
    RegistrationClosed,
    TicketRevoked,
    VenueFull,
)
from checkin.models import Event, Mode, iso, to_datetime
from checkin.ratelimit import address_key
from checkin.storage import registrants as store
from checkin.ticketmail import doors_time
from checkin.web import regform
from checkin.web.common import client_address, event_of, log, mail_promoted, read_body, see_other, services
from checkin.web.templating import language, render

Endpoint = Callable[[Request], Awaitable[Response]]
NO_STORE = {"Cache-Control": "no-store"}
# Ticket pages: the URL is the credential. Nobody but the registrant's browser keeps or indexes them.
PRIVATE = {"Cache-Control": "private, no-store", "X-Robots-Tag": "noindex, nofollow"}
IMAGE_CACHE = {"Cache-Control": "private, max-age=86400, immutable"}


def page(
    request: Request, template: str, context: dict[str, Any], status: int = 200, private: bool = False
) -> Response:
    """A rendered page that no shared cache keeps (`private` adds noindex for ticket pages)."""
    response = render(request, template, {"private": private, **context}, status_code=status)
    response.headers.update(PRIVATE if private else NO_STORE)
    return response


def notice(request: Request, key: str, status: int = 200, *, private: bool = False, **context: Any) -> Response:
    """A short page with a title and one paragraph: `{key}.title` and `{key}.body`."""
    return page(request, "pages/notice.html", {"key": key, **context}, status, private)


def html_errors(*, private: bool) -> Callable[[Endpoint], Endpoint]:
    """Errors of a public page as a page in the visitor's language, never JSON or a traceback."""

    def decorate(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def wrapper(request: Request) -> Response:
            try:
                return await endpoint(request)
            except TicketRevoked:
                return notice(request, "pages.revoked", 410, private=True)
            except EventNotFound:
                return notice(request, "pages.not_found", 404, private=private, body="pages.not_found.event")
            except NotFound:
                return notice(request, "pages.not_found", 404, private=private, body="pages.not_found.ticket")
            except CheckinError as exc:
                return notice(request, "pages.failed", exc.status, private=private)

        return wrapper

    return decorate


def event_facts(event: Event, lang: str) -> dict[str, str]:
    """When and where, as the pages show them: JST times, the venue and a map link."""
    same_day = to_datetime(event.starts_at).date() == to_datetime(event.ends_at).date()
    end = format_datetime(event.ends_at, lang, with_date=not same_day)
    place = event.venue_address or event.venue_name
    # Only web links: the address is typed by organisers but ends up in a public page.
    map_url = event.map_url if event.map_url.startswith(("https://", "http://")) else ""
    if not map_url and place:
        map_url = "https://www.openstreetmap.org/search?query=" + urllib.parse.quote(place)
    return {
        "when": f"{format_datetime(event.starts_at, lang)}{'〜' if lang == 'ja' else '–'}{end}",
        "starts_iso": iso(event.starts_at) or "",
        "start": format_datetime(event.starts_at, lang),
        "doors": doors_time(event, lang),
        "map_url": map_url,
    }


# --- the event page and its registration form


async def form_page(
    request: Request,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
    retry_after: int = 0,
) -> Response:
    """The event page: facts, seats left, and the form (with the values and errors of a failed post, or
    how long to wait before sending again)."""
    event, seats_left = await services(request).db.read(store.event_and_seats, str(request.path_params["slug"]))
    lang = language(request)
    context = {
        "event": event,
        "facts": event_facts(event, lang),
        "seats_left": seats_left,
        "choices": regform.choices(seats_left, event.waitlist_enabled),
        "values": values or {},
        "errors": regform.messages(errors or {}, lang),
        "duplicate": (errors or {}).get("email") == DuplicateEmail.code,
        "consent_value": regform.CONSENT_VALUE,
        "action": f"/e/{event.slug}/" + ("?lang=en" if lang == "en" else ""),
        "retry_after": retry_after,
    }
    return page(request, "pages/event.html", context, status)


@html_errors(private=False)
async def event_page(request: Request) -> Response:
    """The event and its registration form."""
    return await form_page(request)


@html_errors(private=False)
async def register(request: Request) -> Response:
    """A submitted form: on success 303 to the ticket (or the waiting-list notice), else the form again."""
    svc = services(request)
    event = await event_of(request)
    values = regform.parse(await read_body(request, svc.settings.max_body_bytes))
    address = client_address(request.scope)
    try:
        await svc.limits.hit(ratelimit.REGISTER, address_key(address))
    except RateLimited as exc:
        response = await form_page(request, values, status=exc.status, retry_after=exc.retry_after)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    submission = regform.check(values)
    if submission.application is None:
        return await form_page(request, submission.values, submission.errors, 422)
    try:
        result = await svc.writes.change(
            event.slug,
            store.register,
            event,
            submission.application,
            svc.now(),
            waitlist=submission.waitlist,
            address=address,
        )
    except (DuplicateEmail, VenueFull) as exc:
        field = "email" if isinstance(exc, DuplicateEmail) else "mode"
        return await form_page(request, submission.values, {field: exc.code}, exc.status)
    except RegistrationClosed:
        return await form_page(request, status=RegistrationClosed.status)
    if result.ticket is None:
        return RedirectResponse(f"/e/{event.slug}/waitlisted", status_code=303)
    mail = BackgroundTask(mailer.send_ticket, svc, event, result)
    # The ticket page then says the registration was taken and what comes next.
    return RedirectResponse(f"/t/{result.ticket.code}?registered=1", status_code=303, background=mail)


@html_errors(private=False)
async def waitlisted(request: Request) -> Response:
    """The notice after joining the waiting list."""
    return notice(request, "pages.waitlisted", event=await event_of(request))


@html_errors(private=False)
async def cancelled(request: Request) -> Response:
    """The notice after a cancellation."""
    return notice(request, "pages.cancelled", event=await event_of(request))


# --- the ticket


async def _ticket(request: Request) -> store.TicketLookup:
    return await services(request).db.read(store.live_ticket, str(request.path_params["code"]))


@html_errors(private=True)
async def ticket_page(request: Request) -> Response:
    """The ticket: who, what, when, where, the QR code, the calendar file and, online, the watch link."""
    found = await _ticket(request)
    lang = language(request)
    context = {
        "event": found.event,
        "registrant": found.registrant,
        "code": found.ticket.code,
        "online": found.registrant.mode is Mode.ONLINE,
        "facts": event_facts(found.event, lang),
        "registered": request.query_params.get("registered") == "1",
        "calendar": calendar_links(found.event, found.event.links_base(services(request).settings.base_url), lang),
    }
    return page(request, "pages/ticket.html", context, private=True)


async def ticket_png(request: Request) -> Response:
    """The ticket's QR image; 404 for unknown or revoked codes."""
    try:
        found = await _ticket(request)
    except (NotFound, TicketRevoked):
        return PlainTextResponse("not found", status_code=404, headers=PRIVATE)
    png = await services(request).qr_png(found.ticket.code)
    return Response(png, media_type="image/png", headers=IMAGE_CACHE)


@html_errors(private=True)
async def ticket_ics(request: Request) -> Response:
    """The event as a calendar file, linking back to the ticket."""
    found = await _ticket(request)
    svc = services(request)
    base = found.event.links_base(svc.settings.base_url)
    url = f"{base}/t/{found.ticket.code}"
    body = ics.event_ics(found.event, found.registrant.id, base_url=base, url=url, now=svc.now())
    headers = {**PRIVATE, "Content-Disposition": f'attachment; filename="{found.event.slug}.ics"'}
    return Response(body, media_type="text/calendar; charset=utf-8", headers=headers)


@html_errors(private=True)
async def cancel_page(request: Request) -> Response:
    """Cancelling asks first: a page with one button that posts."""
    found = await _ticket(request)
    return page(request, "pages/cancel.html", {"event": found.event, "code": found.ticket.code}, private=True)


@html_errors(private=True)
async def cancel(request: Request) -> Response:
    """Cancel the registration; the freed seat goes to the first waiting person (`Registration.promoted`)."""
    svc = services(request)
    code = str(request.path_params["code"])
    # Read first: the live hub is told of the ticket's event, which only the ticket names.
    found = await _ticket(request)
    event, result = await svc.writes.change(found.event.slug, store.cancel_by_code, code, svc.now())
    svc.qr.forget(tickets.normalise(code))
    if result.promoted:
        log.info("cancellation on %s moved %d waiting registrant(s) up", event.slug, len(result.promoted))
    return see_other(f"/e/{event.slug}/cancelled", mail_promoted(request, event, result.promoted))


routes: list[BaseRoute] = [
    Route("/e/{slug}/", event_page, methods=["GET"]),
    Route("/e/{slug}/", register, methods=["POST"]),
    Route("/e/{slug}/waitlisted", waitlisted),
    Route("/e/{slug}/cancelled", cancelled),
    Route("/t/{code}.png", ticket_png),
    Route("/t/{code}.ics", ticket_ics),
    Route("/t/{code}/cancel", cancel_page, methods=["GET"]),
    Route("/t/{code}/cancel", cancel, methods=["POST"]),
    Route("/t/{code}", ticket_page),
]

"""The organisers' registrant pages: list with search and filters, registrations per client address, one
registrant, and its actions (edit, re-issue, cancel, re-send). Destructive actions ask first; all of them
are POST forms."""

from __future__ import annotations

import enum
from typing import TypeVar
from urllib.parse import urlencode

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from checkin import mailer
from checkin.access import Principal
from checkin.errors import Conflict, DuplicateEmail, Invalid
from checkin.models import Event, Mode, Registrant, Status
from checkin.registration import validate
from checkin.storage import admin as store
from checkin.storage.events import audit
from checkin.storage.registrants import Registration, cancel, get_registrant, reissue_ticket
from checkin.web.adminkit import event_page, page, page_number
from checkin.web.common import mail_promoted, see_other, services
from checkin.web.forms import form_strings, read_form

MAX_QUERY = 100
DETAILS = ("name", "kana", "email", "organisation", "mode")


E = TypeVar("E", bound=enum.Enum)


def _choice(kind: type[E], value: str | None) -> E | None:
    """The enum member of that value; None for a missing or junk value (the filter is then off)."""
    try:
        return kind(value) if value else None
    except ValueError:
        return None


def filters_of(request: Request) -> store.RegistrantFilter:
    """The list's search and filters from the query string (junk values mean no filter)."""
    params = request.query_params
    return store.RegistrantFilter(
        query=params.get("q", "")[:MAX_QUERY],
        mode=_choice(Mode, params.get("mode")),
        status=_choice(Status, params.get("status")),
        checked_in={"yes": True, "no": False}.get(params.get("checked", "")),
        address=params.get("address", "")[:MAX_QUERY],
    )


def base_path(event: Event, registrant_id: int | None = None) -> str:
    path = f"/admin/events/{event.slug}/registrants"
    return path if registrant_id is None else f"{path}/{registrant_id}"


def registrant_id(request: Request) -> int:
    return int(request.path_params["registrant_id"])


@event_page
async def registrant_list(request: Request, principal: Principal, event: Event) -> Response:
    """GET /admin/events/{slug}/registrants: search (name, reading, e-mail, reference no.), filters, pages."""
    filters = filters_of(request)
    db = services(request).db
    found = await db.read(store.registrant_page, event.id, filters, page_number(request))
    counts = (await db.read(store.event_counts, event.id)).get(event.id, store.Counts())
    kept = {k: v for k, v in request.query_params.items() if k in {"q", "mode", "status", "checked", "address"} and v}
    return page(
        request,
        principal,
        "admin/registrants.html",
        event=event,
        found=found,
        filters=filters,
        counts=counts,
        query=urlencode(kept),
        tab="registrants",
    )


@event_page
async def address_list(request: Request, principal: Principal, event: Event) -> Response:
    """GET /admin/events/{slug}/addresses: web registrations per client address, to spot a scripted burst."""
    addresses = await services(request).db.read(store.address_counts, event.id)
    links = {item.address: f"{base_path(event)}?{urlencode({'address': item.address})}" for item in addresses}
    return page(
        request, principal, "admin/addresses.html", event=event, addresses=addresses, links=links, tab="addresses"
    )


@event_page
async def registrant_view(request: Request, principal: Principal, event: Event) -> Response:
    """GET .../registrants/{id}: details, ticket, status, check-in, e-mails sent, history."""
    record = await services(request).db.read(store.registrant_record, event.id, registrant_id(request))
    base = event.links_base(services(request).settings.base_url)
    return page(request, principal, "admin/registrant.html", event=event, record=record, base=base, tab="registrants")


@event_page
async def registrant_edit(request: Request, principal: Principal, event: Event) -> Response:
    """GET/POST .../registrants/{id}/edit: change details (e-mail unique, seats kept right)."""
    svc = services(request)
    registrant = await svc.db.read(get_registrant, event.id, registrant_id(request))
    if request.method == "GET":
        values = {name: str(getattr(registrant, name)) for name in DETAILS}
        return page(request, principal, "admin/registrant_edit.html", event=event, registrant=registrant, values=values)
    values = form_strings(await read_form(request))
    errors: dict[str, str] = {}
    try:
        app = validate(values, require_kana=False)
        result = await svc.writes.change(
            event.slug, store.edit_registrant, event, registrant.id, app, svc.now(), principal.actor
        )
    except Invalid as exc:
        errors = exc.fields
    except DuplicateEmail:
        errors = {"email": "duplicate"}
    except Conflict:
        errors = {"mode": "no_seat"}
    if errors:
        return page(
            request,
            principal,
            "admin/registrant_edit.html",
            409 if errors.get("mode") == "no_seat" else 422,
            event=event,
            registrant=registrant,
            values=values,
            errors=errors,
        )
    return see_other(base_path(event, registrant.id), mail_edited(request, event, registrant, result), done="edited")


def mail_edited(request: Request, event: Event, before: Registrant, after: Registration) -> BackgroundTask | None:
    """After an edit: the ticket to a waiting person it registered (moved online), and word to anyone
    moved up into the seat it freed."""
    svc = services(request)
    newly = after if before.status is Status.WAITLISTED and after.ticket is not None else None
    if newly is None and not after.promoted:
        return None

    async def send() -> None:
        if newly is not None:
            await mailer.send_ticket(svc, event, newly)
        await mailer.notify_promoted(svc, event, after.promoted)

    return BackgroundTask(send)


def confirm(request: Request, principal: Principal, event: Event, action: str, registrant: Registrant) -> Response:
    """The page that asks before a destructive action."""
    back = base_path(event, registrant.id)
    return page(request, principal, "admin/confirm.html", event=event, action=action, registrant=registrant, back=back)


@event_page
async def registrant_reissue(request: Request, principal: Principal, event: Event) -> Response:
    """GET (confirm) / POST .../registrants/{id}/reissue: a new ticket code; the old one stops working."""
    svc = services(request)
    registrant = await svc.db.read(get_registrant, event.id, registrant_id(request))
    if request.method == "GET":
        return confirm(request, principal, event, "reissue", registrant)
    ticket = await svc.writes.change(event.slug, reissue_ticket, event, registrant.id, svc.now(), principal.actor)
    mail = BackgroundTask(mailer.send_ticket, svc, event, Registration(registrant, ticket))
    return see_other(base_path(event, registrant.id), mail, done="reissued")


@event_page
async def registrant_cancel(request: Request, principal: Principal, event: Event) -> Response:
    """GET (confirm) / POST .../registrants/{id}/cancel: cancel, revoke the ticket, move the waiting list up."""
    svc = services(request)
    registrant = await svc.db.read(get_registrant, event.id, registrant_id(request))
    if request.method == "GET":
        return confirm(request, principal, event, "cancel", registrant)
    result = await svc.writes.change(event.slug, cancel, event, registrant.id, svc.now(), principal.actor)
    mail = mail_promoted(request, event, result.promoted)
    return see_other(base_path(event, registrant.id), mail, done="cancelled", promoted=str(len(result.promoted)))


@event_page
async def registrant_resend(request: Request, principal: Principal, event: Event) -> Response:
    """POST .../registrants/{id}/resend: e-mail the current ticket again (at most once in 10 minutes)."""
    svc = services(request)
    registrant = await svc.db.read(get_registrant, event.id, registrant_id(request))
    if registrant.status is not Status.REGISTERED:
        raise Conflict("only registered people have a ticket to send")
    outcome = await mailer.resend(svc, event, registrant.email)
    result = mailer.Result.FAILED if outcome is None else outcome.result
    await svc.writes.store(
        audit, event.id, svc.now(), principal.actor, "ticket.resend", registrant.ref_no, {"result": result}
    )
    return see_other(base_path(event, registrant.id), done=f"resend_{result}")


ONE = "/admin/events/{slug}/registrants/{registrant_id:rowid}"
routes: list[BaseRoute] = [
    Route("/admin/events/{slug}/", registrant_list, methods=["GET"]),
    Route("/admin/events/{slug}/registrants", registrant_list, methods=["GET"]),
    Route("/admin/events/{slug}/addresses", address_list, methods=["GET"]),
    Route(ONE, registrant_view, methods=["GET"]),
    Route(ONE + "/edit", registrant_edit, methods=["GET", "POST"]),
    Route(ONE + "/reissue", registrant_reissue, methods=["GET", "POST"]),
    Route(ONE + "/cancel", registrant_cancel, methods=["GET", "POST"]),
    Route(ONE + "/resend", registrant_resend, methods=["POST"]),
]

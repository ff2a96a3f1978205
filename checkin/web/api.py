"""The JSON API of registrations, registrants and identity (`/api/v1`)."""

from __future__ import annotations

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from checkin import mailer, ratelimit
from checkin.access import Principal
from checkin.models import Event, Role, Ticket, iso
from checkin.ratelimit import address_key
from checkin.registration import validate
from checkin.storage import registrants as store
from checkin.storage.attendance import RegistrantAttendance, registrant_attendance
from checkin.storage.events import get_event_by_id
from checkin.storage.scans import search_at_door
from checkin.web.auth import require
from checkin.web.common import client_address, event_of, read_json, services


def ticket_json(request: Request, event: Event, ticket: Ticket | None) -> dict[str, str] | None:
    """The ticket fields of the contract: code and its page and image URLs."""
    if ticket is None:
        return None
    base = event.links_base(services(request).settings.base_url)
    return {"code": ticket.code, "url": f"{base}/t/{ticket.code}", "png_url": f"{base}/t/{ticket.code}.png"}


async def create_registration(request: Request) -> JSONResponse:
    """Register one person (public, limited per client address)."""
    event = await event_of(request)
    svc = services(request)
    address = client_address(request.scope)
    await svc.limits.hit(ratelimit.REGISTER, address_key(address))
    data = await read_json(request)
    app = validate(data)
    waitlist = data.get("waitlist")
    wanted = None if waitlist is None else bool(waitlist)
    result = await svc.writes.change(
        event.slug, store.register, event, app, svc.now(), waitlist=wanted, address=address
    )
    return JSONResponse(
        {"registrant": result.registrant.public(), "ticket": ticket_json(request, event, result.ticket)},
        status_code=201,
        background=BackgroundTask(mailer.send_ticket, svc, event, result),
    )


def _staff_key(principal: Principal) -> str:
    """Whose search budget a call spends: its token's, or the logged-in organiser's."""
    return f"token:{principal.token_id}" if principal.token_id is not None else f"user:{principal.user_id}"


async def search_registrants(request: Request) -> JSONResponse:
    """Search by name, reading, e-mail or reference number (kiosk, organiser; limited per token or login)."""
    event = await event_of(request)
    principal = await require(request, {Role.KIOSK, Role.ORGANISER}, event)
    svc = services(request)
    await svc.limits.hit(ratelimit.SEARCH, _staff_key(principal))
    query = request.query_params.get("q", "")[:100]
    found = await svc.db.read(search_at_door, event.id, query)
    items = [{**r.public(), "checked_in_at": iso(at, event.tz)} for r, at in found]
    return JSONResponse({"registrants": items})


async def one_registrant(request: Request) -> JSONResponse:
    """One registrant with their ticket, check-ins and online viewing (organiser)."""
    event = await event_of(request)
    await require(request, {Role.ORGANISER}, event)
    found = await services(request).db.read(registrant_attendance, event.id, int(request.path_params["registrant_id"]))
    return JSONResponse(attendance_json(request, event, found), headers={"cache-control": "no-store"})


def attendance_json(request: Request, event: Event, found: RegistrantAttendance) -> dict[str, object]:
    """A registrant's attendance in the API's shape (times in the event's zone)."""
    tz, viewing = event.tz, found.viewing
    registrant = {**found.registrant.public(), "checked_in_at": iso(found.checked_in_at, tz), "inside": found.inside}
    return {
        "registrant": registrant,
        "ticket": ticket_json(request, event, found.ticket),
        "checkins": [
            {"at": iso(c.at, tz), "direction": c.direction, "kiosk": c.kiosk, "method": c.method, "undone": c.undone}
            for c in found.checkins
        ],
        "viewing": {
            "minutes": 0 if viewing is None else round(viewing.seconds / 60),
            "seconds": 0 if viewing is None else round(viewing.seconds),
            "first_seen": None if viewing is None else iso(viewing.first_join, tz),
            "last_seen": None if viewing is None else iso(viewing.last_leave, tz),
        },
    }


async def me(request: Request) -> JSONResponse:
    """Who this credential is."""
    principal = await require(request, set(Role))
    slug = None
    if principal.event_id is not None:
        slug = (await services(request).db.lookup(get_event_by_id, principal.event_id)).slug
    body = {"role": principal.role.value, "name": principal.name, "event": slug}
    if principal.role is Role.KIOSK:
        body["kiosk"] = principal.name  # a kiosk token carries its kiosk's name
    return JSONResponse(body)


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


routes: list[BaseRoute] = [
    Route("/healthz", healthz),
    Route("/api/v1/me", me),
    Route("/api/v1/events/{slug}/registrations", create_registration, methods=["POST"]),
    Route("/api/v1/events/{slug}/registrants", search_registrants),
    Route("/api/v1/events/{slug}/registrants/{registrant_id:rowid}", one_registrant),
]

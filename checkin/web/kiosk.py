"""The door's API: scans, undo, walk-ins, the kiosk's offline copy, its heartbeat, and pairing."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from checkin import ratelimit
from checkin import scans as rules
from checkin.access import Principal, authorise, token_principal
from checkin.errors import BadRequest, NotCheckedIn
from checkin.models import Event, Role, iso
from checkin.ratelimit import address_key
from checkin.storage import kiosks
from checkin.storage.kiosk_sync import sync_body
from checkin.storage.scans import Caller, record_scan, register_walkin, scan_with_token, undo_checkin
from checkin.storage.staff import TokenInfo
from checkin.web.auth import bearer_secret, require
from checkin.web.common import client_address, event_of, read_json, services

DOOR_ROLES = {Role.KIOSK, Role.ORGANISER}


def _caller(principal: Principal) -> Caller:
    return Caller(principal.name, principal.token_id if principal.role is Role.KIOSK else None)


def _admit(event: Event, token: TokenInfo | None) -> Caller:
    """Who scans with this token, once it may scan at this event's door (else Unauthorized or Forbidden)."""
    return _caller(authorise(token_principal(token), DOOR_ROLES, event))


async def _door(request: Request) -> tuple[Event, Principal]:
    event = await event_of(request)
    return event, await require(request, DOOR_ROLES, event)


async def scan(request: Request) -> Response:
    """One scan at the door (kiosk, organiser): the decision, as JSON."""
    svc = services(request)
    slug = str(request.path_params["slug"])
    secret = bearer_secret(request)
    if secret is None:  # a staff login: its session (and CSRF token) are checked on the loop
        event, principal = await _door(request)
        body = rules.parse_scan(await read_json(request))
        outcome = await svc.writes.change(slug, record_scan, event, body, _caller(principal), svc.now())
    else:
        data = await read_json(request)
        outcome = await svc.writes.change(slug, scan_with_token, slug, secret, data, svc.now(), _admit)
    return Response(outcome.text, media_type="application/json")


async def undo(request: Request) -> JSONResponse:
    """Take back a mistaken check-in (kiosk, organiser)."""
    event, principal = await _door(request)
    registrant_id = int(request.path_params["registrant_id"])
    if not rules.is_row_id(registrant_id):
        raise NotCheckedIn("this registrant is not checked in")
    svc = services(request)
    figures = await svc.writes.change(event.slug, undo_checkin, event, registrant_id, principal.name, svc.now())
    return JSONResponse({"result": "undone", "in_hall": figures.in_hall, "checked_in": figures.checked_in})


async def walkin(request: Request) -> Response:
    """Register a walk-in and check them in at once (kiosk, organiser)."""
    event, principal = await _door(request)
    walkin_request = rules.parse_walkin(await read_json(request))
    svc = services(request)
    outcome = await svc.writes.change(event.slug, register_walkin, event, walkin_request, _caller(principal), svc.now())
    return Response(outcome.text, media_type="application/json")


async def sync(request: Request) -> Response:
    """The kiosk's offline copy: all of it, or what changed since `?since=`."""
    event, _ = await _door(request)
    svc = services(request)
    gzipped = "gzip" in request.headers.get("accept-encoding", "")
    body = await svc.db.read(sync_body, event, request.query_params.get("since"), svc.now(), gzipped)
    headers = {"content-encoding": "gzip", "vary": "Accept-Encoding"} if gzipped else {"vary": "Accept-Encoding"}
    return Response(body, media_type="application/json", headers=headers)


async def heartbeat(request: Request) -> JSONResponse:
    """A kiosk's health (queue length, last scan, direction); answers with the server's time."""
    event, principal = await _door(request)
    beat = rules.parse_heartbeat(await read_json(request))
    svc = services(request)
    now = svc.now()
    if principal.role is Role.KIOSK and principal.token_id is not None:
        await svc.writes.change(event.slug, kiosks.heartbeat, event.id, principal.token_id, principal.name, beat, now)
    return JSONResponse({"server_time": iso(now, event.tz)})


async def pair(request: Request) -> JSONResponse:
    """Spend a one-time pairing code for a kiosk token (public, limited per address)."""
    svc = services(request)
    await svc.limits.hit(ratelimit.PAIR, address_key(client_address(request.scope)))
    code = (await read_json(request)).get("code")
    if not isinstance(code, str) or not 0 < len(code) <= 40:
        raise BadRequest("a pairing code is required")
    pairing = await svc.writes.store(kiosks.pair_kiosk, code, svc.now())
    return JSONResponse({"token": pairing.token, "event": pairing.slug, "kiosk": pairing.kiosk.name})


routes: list[BaseRoute] = [
    Route("/api/v1/events/{slug}/scans", scan, methods=["POST"]),
    Route("/api/v1/events/{slug}/checkins/{registrant_id:int}", undo, methods=["DELETE"]),
    Route("/api/v1/events/{slug}/walkins", walkin, methods=["POST"]),
    Route("/api/v1/events/{slug}/kiosk/sync", sync),
    Route("/api/v1/events/{slug}/kiosk/heartbeat", heartbeat, methods=["POST"]),
    Route("/api/v1/kiosk/pair", pair, methods=["POST"]),
]

"""The door's API: scans, undo, walk-ins, the kiosk's offline copy, its heartbeat, and pairing."""

from __future__ import annotations

import gzip
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from checkin import ratelimit
from checkin import scans as rules
from checkin.errors import BadRequest, NotCheckedIn
from checkin.models import Event, Role, iso
from checkin.ratelimit import address_key
from checkin.storage import kiosks
from checkin.storage.events import get_event
from checkin.storage.kiosk_sync import kiosk_sync
from checkin.storage.scans import Caller, ScanOutcome, record_scan, register_walkin, to_json, undo_checkin
from checkin.storage.sql import Connection
from checkin.storage.staff import resolve_token
from checkin.web.auth import Principal, authorise, bearer_secret, require, token_principal
from checkin.web.common import client_address, event_of, read_json, services

DOOR_ROLES = {Role.KIOSK, Role.ORGANISER}


def _caller(principal: Principal) -> Caller:
    return Caller(principal.name, principal.token_id if principal.role is Role.KIOSK else None)


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
        outcome = await svc.db.write(record_scan, event, body, _caller(principal), svc.now())
    else:
        outcome = await svc.db.write(_scan_with_token, slug, secret, await read_json(request), svc.now())
    if outcome.recorded:
        svc.hub.changed(slug)
    return Response(outcome.text, media_type="application/json")


def _scan_with_token(conn: Connection, slug: str, secret: str, data: dict[str, Any], now: float) -> ScanOutcome:
    """Event, token, permission and scan in ONE hand-off to the writer thread: the hot path of the door.

    Each SQLite call on the event loop lets the writer thread take the GIL; looking up the event and
    the token there, then handing the scan over, cost a quarter more CPU per scan than this.
    """
    event = get_event(conn, slug)
    principal = authorise(token_principal(resolve_token(conn, secret)), DOOR_ROLES, event)
    return record_scan(conn, event, rules.parse_scan(data), _caller(principal), now)


async def undo(request: Request) -> JSONResponse:
    """Take back a mistaken check-in (kiosk, organiser)."""
    event, principal = await _door(request)
    registrant_id = int(request.path_params["registrant_id"])
    if not rules.is_row_id(registrant_id):
        raise NotCheckedIn("this registrant is not checked in")
    svc = services(request)
    figures = await svc.db.write(undo_checkin, event, registrant_id, principal.name, svc.now())
    svc.hub.changed(event.slug)
    return JSONResponse({"result": "undone", "in_hall": figures.in_hall, "checked_in": figures.checked_in})


async def walkin(request: Request) -> Response:
    """Register a walk-in and check them in at once (kiosk, organiser)."""
    event, principal = await _door(request)
    walkin_request = rules.parse_walkin(await read_json(request))
    svc = services(request)
    outcome = await svc.db.write(register_walkin, event, walkin_request, _caller(principal), svc.now())
    if outcome.recorded:
        svc.hub.changed(event.slug)
    return Response(outcome.text, media_type="application/json")


def _sync_body(conn: Connection, event: Event, since: str | None, now: float, gzipped: bool) -> bytes:
    # Encoded (and compressed, when the kiosk accepts it) on the reading thread: a full copy of a large
    # event is megabytes of JSON, which would otherwise hold the event loop and every scan behind it.
    body = to_json(kiosk_sync(conn, event, since, now)).encode("utf-8")
    return gzip.compress(body, compresslevel=5) if gzipped else body


async def sync(request: Request) -> Response:
    """The kiosk's offline copy: all of it, or what changed since `?since=`."""
    event, _ = await _door(request)
    svc = services(request)
    gzipped = "gzip" in request.headers.get("accept-encoding", "")
    body = await svc.db.read(_sync_body, event, request.query_params.get("since"), svc.now(), gzipped)
    headers = {"content-encoding": "gzip", "vary": "Accept-Encoding"} if gzipped else {"vary": "Accept-Encoding"}
    return Response(body, media_type="application/json", headers=headers)


async def heartbeat(request: Request) -> JSONResponse:
    """A kiosk's health (queue length, last scan, direction); answers with the server's time."""
    event, principal = await _door(request)
    beat = rules.parse_heartbeat(await read_json(request))
    svc = services(request)
    now = svc.now()
    if principal.role is Role.KIOSK and principal.token_id is not None:
        await svc.db.write(kiosks.heartbeat, event.id, principal.token_id, principal.name, beat, now)
        svc.hub.changed(event.slug)
    return JSONResponse({"server_time": iso(now, event.tz)})


async def pair(request: Request) -> JSONResponse:
    """Spend a one-time pairing code for a kiosk token (public, limited per address)."""
    svc = services(request)
    await svc.limits.hit(ratelimit.PAIR, address_key(client_address(request.scope)))
    code = (await read_json(request)).get("code")
    if not isinstance(code, str) or not 0 < len(code) <= 40:
        raise BadRequest("a pairing code is required")
    pairing = await svc.db.write(kiosks.pair_kiosk, code, svc.now())
    return JSONResponse({"token": pairing.token, "event": pairing.slug, "kiosk": pairing.kiosk.name})


routes: list[BaseRoute] = [
    Route("/api/v1/events/{slug}/scans", scan, methods=["POST"]),
    Route("/api/v1/events/{slug}/checkins/{registrant_id:int}", undo, methods=["DELETE"]),
    Route("/api/v1/events/{slug}/walkins", walkin, methods=["POST"]),
    Route("/api/v1/events/{slug}/kiosk/sync", sync),
    Route("/api/v1/events/{slug}/kiosk/heartbeat", heartbeat, methods=["POST"]),
    Route("/api/v1/kiosk/pair", pair, methods=["POST"]),
]

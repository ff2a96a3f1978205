"""The door's API: scans, undo, walk-ins, the kiosk's offline copy, its heartbeat, and pairing."""

from __future__ import annotations

import time
from collections import defaultdict, deque

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from checkin import scans as rules
from checkin.errors import BadRequest, NotCheckedIn, TooManyRequests
from checkin.models import Event, Role, iso
from checkin.storage import kiosks
from checkin.storage.kiosk_sync import kiosk_sync
from checkin.storage.scans import Caller, record_scan, register_walkin, undo_checkin
from checkin.web.auth import Principal, require
from checkin.web.common import event_of, read_json, services

DOOR_ROLES = {Role.KIOSK, Role.ORGANISER}
MAX_CLIENTS = 10_000


class Throttle:
    """At most `limit` attempts per client address in a sliding window of `window` seconds."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._attempts: dict[str, deque[float]] = defaultdict(deque)

    def check(self, client: str, now: float) -> None:
        """Count one attempt; TooManyRequests past the limit."""
        if len(self._attempts) > MAX_CLIENTS:  # forget addresses that went quiet, so memory stays bounded
            self._attempts = defaultdict(
                deque, {k: v for k, v in self._attempts.items() if v and v[-1] > now - self.window}
            )
        attempts = self._attempts[client]
        while attempts and attempts[0] <= now - self.window:
            attempts.popleft()
        if len(attempts) >= self.limit:
            raise TooManyRequests("too many attempts; wait a minute")
        attempts.append(now)


def _caller(principal: Principal) -> Caller:
    return Caller(principal.name, principal.token_id if principal.role is Role.KIOSK else None)


async def _door(request: Request) -> tuple[Event, Principal]:
    event = await event_of(request)
    return event, await require(request, DOOR_ROLES, event)


async def scan(request: Request) -> Response:
    """One scan at the door (kiosk, organiser): the decision, as JSON."""
    event, principal = await _door(request)
    request_body = rules.parse_scan(await read_json(request))
    svc = services(request)
    outcome = await svc.db.write(record_scan, event, request_body, _caller(principal), svc.now())
    if outcome.recorded:
        svc.hub.changed(event.slug)
    return Response(outcome.text, media_type="application/json")


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


async def sync(request: Request) -> JSONResponse:
    """The kiosk's offline copy: all of it, or what changed since `?since=`."""
    event, _ = await _door(request)
    svc = services(request)
    body = await svc.db.read(kiosk_sync, event, request.query_params.get("since"), svc.now())
    return JSONResponse(body)


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
    """Spend a one-time pairing code for a kiosk token (public, throttled per address)."""
    throttle = getattr(request.app.state, "pairing_throttle", None)
    if throttle is None:
        throttle = request.app.state.pairing_throttle = Throttle(limit=10, window=60.0)
    throttle.check(request.client.host if request.client else "-", time.monotonic())
    code = (await read_json(request)).get("code")
    if not isinstance(code, str) or not 0 < len(code) <= 40:
        raise BadRequest("a pairing code is required")
    svc = services(request)
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

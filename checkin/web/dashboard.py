"""The live dashboard: its socket, the `/stats` snapshot, the after-event report and the two pages."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from dataclasses import asdict

from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from checkin.display import env
from checkin.errors import CheckinError, Forbidden, socket_close_code
from checkin.hub import Subscription
from checkin.models import Event, Role, iso
from checkin.stats import for_projector, report_figures
from checkin.storage.report import report_data
from checkin.web.auth import authenticate, require, same_origin
from checkin.web.common import event_of, services

VIEWERS = frozenset({Role.DASHBOARD, Role.ORGANISER})
GOING_AWAY = 1001
RECHECK_SECONDS = 30.0
PAGE_HEADERS = {"cache-control": "no-cache"}  # the policy is every page's: checkin.web.security


async def authorised_event(conn: HTTPConnection, roles: frozenset[Role] = VIEWERS) -> Event:
    """The path's event, if this caller may see its figures (a dashboard or organiser credential)."""
    event = await event_of(conn)
    if not same_origin(conn):
        raise Forbidden("cross-site request")  # no other site's page may follow the figures, whatever it holds
    await require(conn, roles, event)
    return event


async def names_hidden(conn: HTTPConnection, event: Event) -> bool:
    """Whether this caller is a projector (a dashboard token) of an event that keeps names off it."""
    principal = await authenticate(conn)
    return principal is not None and principal.role is Role.DASHBOARD and not event.projector_names


async def dashboard_socket(websocket: WebSocket) -> None:
    """Snapshots of one event: the current one at once, then a fresh one after changes."""
    try:
        event = await authorised_event(websocket)
    except CheckinError as exc:
        await websocket.accept()  # accepted only to carry the reason: nothing is sent before the close
        await _refuse(websocket, exc)
        return
    await websocket.accept()
    hide_names = await names_hidden(websocket, event)
    loop = asyncio.get_running_loop()
    async with services(websocket).hub.subscribe(event.slug) as subscription:
        listener = asyncio.create_task(_until_disconnect(websocket, subscription))
        recheck_at = loop.time() + RECHECK_SECONDS
        try:
            async for message in subscription:
                if loop.time() >= recheck_at:  # a revoked token or an ended login stops the feed
                    event = await authorised_event(websocket)
                    hide_names = await names_hidden(websocket, event)  # the setting may have changed
                    recheck_at = loop.time() + RECHECK_SECONDS
                await websocket.send_text(for_projector(message) if hide_names else message)
        except CheckinError as exc:
            await _refuse(websocket, exc)
        except WebSocketDisconnect:
            pass
        finally:
            listener.cancel()
    if websocket.client_state is WebSocketState.CONNECTED and websocket.application_state is WebSocketState.CONNECTED:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            await websocket.close(code=GOING_AWAY)


async def _refuse(websocket: WebSocket, exc: CheckinError) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        await websocket.close(code=socket_close_code(exc), reason=exc.code)


async def _until_disconnect(websocket: WebSocket, subscription: Subscription) -> None:
    """Read (and ignore) what the client sends; when it goes away, end its subscription."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass
    subscription.close()


async def stats(request: Request) -> Response:
    """The snapshot the dashboard socket sends, computed now (dashboard, organiser)."""
    event = await authorised_event(request)
    text = await services(request).hub.snapshot(event.slug)
    if await names_hidden(request, event):
        text = for_projector(text)
    return Response(text, media_type="application/json", headers={"cache-control": "no-store"})


async def report(request: Request) -> JSONResponse:
    """After the event: the event, the final figures, no-shows and walk-ins (organisers only: it holds names)."""
    event = await authorised_event(request, frozenset({Role.ORGANISER}))
    svc = services(request)
    snapshot = await svc.hub.snapshot(event.slug)
    data = await svc.db.read(report_data, event.slug, svc.now())
    at = functools.partial(iso, tz=event.tz)
    body = {
        "event": identity(event),
        "as_of": at(svc.now()),
        "figures": report_figures(data.counts),
        "snapshot": json.loads(snapshot),
        "no_shows": [asdict(row) for row in data.no_shows],
        "walk_ins": [{**asdict(row), "checked_in_at": at(row.checked_in_at)} for row in data.walk_ins],
        "export_url": export_url(event),
        "exports": {"xlsx": f"/admin/events/{event.slug}/export.xlsx", "csv": export_url(event)},
        # Anonymous viewers turned away by the per-address cap (kept in memory: since this process started, or
        # in Redis for every server).
        "anonymous_refused": await svc.watching.refused_anonymous(event.id),
    }
    return JSONResponse(body, headers={"cache-control": "no-store"})


def identity(event: Event) -> dict[str, str | None]:
    """Who and what the event is: title, times, venue, and its organisers where it names them."""
    return {
        "slug": event.slug,
        "title": event.title,
        "starts_at": iso(event.starts_at, event.tz),
        "ends_at": iso(event.ends_at, event.tz),
        "venue_name": event.venue_name,
        "venue_address": event.venue_address,
        "organisers": event.organisers,
    }


def export_url(event: Event) -> str:
    """Where the attendance CSV of this event is downloaded."""
    return f"/admin/events/{event.slug}/export.csv"


def dashboard_html(name: str, meta: dict[str, str | None]) -> HTMLResponse:
    """A dashboard page (templates/dashboard/), with `meta` tags for its script (the event's identity)."""
    text = env.get_template(f"dashboard/{name}").render(meta=meta)
    return HTMLResponse(text, headers=PAGE_HEADERS)


async def dashboard_page(request: Request) -> Response:
    """The live dashboard (data comes over the socket, with the visitor's own credential)."""
    about = identity(await event_of(request))
    meta = {"event-title": about["title"], "event-starts": about["starts_at"], "event-ends": about["ends_at"]}
    return dashboard_html("index.html", meta)


async def report_page(request: Request) -> Response:
    """The after-event report page."""
    await event_of(request)
    return dashboard_html("report.html", {})


routes: list[BaseRoute] = [
    WebSocketRoute("/ws/events/{slug}/dashboard", dashboard_socket),
    Route("/api/v1/events/{slug}/stats", stats),
    Route("/api/v1/events/{slug}/report", report),
    Route("/dashboard/{slug}", dashboard_page),
    Route("/dashboard/{slug}/report", report_page),
]

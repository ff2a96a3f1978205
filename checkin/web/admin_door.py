"""Check-in and its undo from a registrant's page (for someone whose ticket will not scan): the door's own
storage functions, asked for confirmation first, audit-logged and told to the live hub."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from checkin.access import Principal
from checkin.models import Event
from checkin.storage.registrants import get_registrant
from checkin.storage.scans import check_in_by_organiser, undo_checkin
from checkin.web.admin_registrants import ONE, base_path, confirm, registrant_id
from checkin.web.adminkit import event_page
from checkin.web.common import see_other, services

# Scan results with their own sentence on the registrant's page; any other refusal gets a general one.
RESULTS = frozenset({"ok", "already_checked_in", "venue_full", "waitlisted", "revoked"})


@event_page
async def registrant_checkin(request: Request, principal: Principal, event: Event) -> Response:
    """GET (confirm) / POST .../registrants/{id}/checkin: check the person in as the kiosk would."""
    svc = services(request)
    registrant = await svc.db.read(get_registrant, event.id, registrant_id(request))
    if request.method == "GET":
        return confirm(request, principal, event, "checkin", registrant)
    outcome = await svc.writes.change(
        event.slug, check_in_by_organiser, event, registrant.id, principal.actor, svc.now()
    )
    result = str(outcome.body["result"])
    return see_other(base_path(event, registrant.id), done=f"checkin_{result if result in RESULTS else 'refused'}")


@event_page
async def registrant_undo(request: Request, principal: Principal, event: Event) -> Response:
    """GET (confirm) / POST .../registrants/{id}/undo: take back a mistaken check-in (the audit log keeps it)."""
    svc = services(request)
    registrant = await svc.db.read(get_registrant, event.id, registrant_id(request))
    if request.method == "GET":
        return confirm(request, principal, event, "undo_checkin", registrant)
    await svc.writes.change(event.slug, undo_checkin, event, registrant.id, principal.actor, svc.now())
    return see_other(base_path(event, registrant.id), done="checkin_undone")


routes: list[BaseRoute] = [
    Route(ONE + "/checkin", registrant_checkin, methods=["GET", "POST"]),
    Route(ONE + "/undo", registrant_undo, methods=["GET", "POST"]),
]

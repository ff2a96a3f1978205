"""The organisers' pages (`/admin`): events and their settings, the audit log; the routes of every admin module.

Every page is for organisers only (a login, or an organiser token); every form is a POST with the
session's CSRF token; every change is audit-logged and told to the live hub after its commit.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from checkin import eventform
from checkin.access import Principal
from checkin.errors import AlreadyExists, CapacityBelowSeats, Forbidden, Invalid
from checkin.models import Event
from checkin.storage import admin as store
from checkin.storage.events import create_event, list_events
from checkin.web import admin_access, admin_door, admin_files, admin_kiosks, admin_registrants, admin_tickets, login
from checkin.web.admin_tickets import sender_is_default
from checkin.web.adminkit import admin_page, event_page, page
from checkin.web.common import mail_promoted, see_other, services
from checkin.web.forms import form_strings, read_form


@admin_page
async def event_list(request: Request, principal: Principal) -> Response:
    """GET /admin: the events (an event's own organiser token sees only that event)."""
    db = services(request).db
    events = [e for e in await db.read(list_events) if principal.event_id in (None, e.id)]
    counts = await db.read(store.event_counts)
    svc = services(request)
    return page(
        request, principal, "admin/events.html", events=events, counts=counts, empty=store.Counts(),
        sender=svc.settings.smtp.sender, sender_default=sender_is_default(svc),
    )  # fmt: skip


@admin_page
async def new_event(request: Request, principal: Principal) -> Response:
    """GET/POST /admin/events/new: the creation form; a valid one creates the event."""
    if principal.event_id is not None:
        raise Forbidden("a token of one event may not create events")
    if request.method == "GET":
        values = {"registration_open": "on", "waitlist_enabled": "on", "capacity": "300"}
        values["base_url"] = services(request).settings.base_url
        return page(request, principal, "admin/event_form.html", values=values, errors={}, event=None)
    values = form_strings(await read_form(request))
    try:
        event = eventform.parse_new_event(values)
        svc = services(request)
        created = await svc.writes.store(create_event, event, svc.now(), principal.actor)
    except Invalid as exc:
        return page(request, principal, "admin/event_form.html", 422, values=values, errors=exc.fields, event=None)
    except AlreadyExists:
        errors = {"slug": "taken"}
        return page(request, principal, "admin/event_form.html", 409, values=values, errors=errors, event=None)
    return see_other(f"/admin/events/{created.slug}/settings", done="event_created")


def settings_form(
    request: Request, principal: Principal, event: Event, values: dict[str, str], status: int = 200, **extra: object
) -> Response:
    return page(
        request, principal, "admin/event_form.html", status, values=values, event=event, tab="settings", **extra
    )


@event_page
async def event_settings(request: Request, principal: Principal, event: Event) -> Response:
    """GET/POST /admin/events/{slug}/settings: edit; capacity never below the seats taken, and more
    seats move waiting people up."""
    if request.method == "GET":
        return settings_form(request, principal, event, eventform.form_values(event), errors={})
    values = form_strings(await read_form(request))
    svc = services(request)
    try:
        settings = eventform.parse_settings(values)
        change = await svc.writes.change(
            event.slug, store.change_settings, event.slug, settings, principal.actor, svc.now()
        )
    except Invalid as exc:
        return settings_form(request, principal, event, values, exc.status, errors=exc.fields)
    except CapacityBelowSeats as exc:
        return settings_form(
            request, principal, event, values, exc.status, errors={"capacity": "below_seats"}, taken=exc.taken
        )
    mail = mail_promoted(request, change.event, change.promoted)
    url = f"/admin/events/{event.slug}/settings"
    return see_other(url, mail, done="settings_saved", promoted=str(len(change.promoted)))


@event_page
async def audit_view(request: Request, principal: Principal, event: Event) -> Response:
    """GET /admin/events/{slug}/audit: the latest entries of the event's audit log."""
    entries = await services(request).db.read(store.audit_log, event.id)
    return page(request, principal, "admin/audit.html", event=event, entries=entries, tab="audit")


routes: list[BaseRoute] = [
    *login.routes,
    Route("/admin", event_list, methods=["GET"]),
    Route("/admin/events/new", new_event, methods=["GET", "POST"]),
    Route("/admin/events/{slug}/settings", event_settings, methods=["GET", "POST"]),
    Route("/admin/events/{slug}/audit", audit_view, methods=["GET"]),
    *admin_registrants.routes,
    *admin_door.routes,
    *admin_access.routes,
    *admin_files.routes,
    *admin_tickets.routes,
    *admin_kiosks.routes,
]

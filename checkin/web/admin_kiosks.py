"""The organisers' kiosks page (受付端末): name a kiosk, show its one-time pairing code (text and QR),
give a replaced tablet a new code, revoke a kiosk."""

from __future__ import annotations

import asyncio
import base64

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from checkin.access import Principal
from checkin.errors import AlreadyExists, Invalid
from checkin.models import Event
from checkin.storage import kiosks as store
from checkin.tickets import QrOptions, render_png
from checkin.web.adminkit import event_page, page
from checkin.web.common import see_other, services
from checkin.web.forms import read_form, text_field


def pairing_url(request: Request, code: str) -> str:
    """What the QR code holds: the kiosk page, which pairs itself with the code."""
    return f"{services(request).settings.base_url}/kiosk#pair={code}"


async def kiosks_page(
    request: Request,
    principal: Principal,
    event: Event,
    status: int = 200,
    *,
    pairing: tuple[store.Kiosk, str] | None = None,
    errors: dict[str, str] | None = None,
    name: str = "",
) -> Response:
    """The kiosk list, with the pairing code and its QR image when one was just made."""
    svc = services(request)
    shown: dict[str, object] = {}
    if pairing is not None:
        kiosk, code = pairing
        url = pairing_url(request, code)
        png = await asyncio.get_running_loop().run_in_executor(svc.blocking, render_png, url, QrOptions(box_size=6))
        shown = {"paired": kiosk, "code": code, "pairing_url": url, "qr": base64.b64encode(png).decode("ascii")}
    kiosks = await svc.db.read(store.list_kiosks, event.id)
    context = {"kiosks": kiosks, "now": svc.now(), "errors": errors or {}, "values": {"kiosk_name": name}, **shown}
    return page(request, principal, "admin/kiosks.html", status, event=event, tab="kiosks", **context)


@event_page
async def kiosks(request: Request, principal: Principal, event: Event) -> Response:
    """GET: the event's kiosks and their health. POST: a new kiosk and its pairing code (valid 24 h)."""
    if request.method == "GET":
        return await kiosks_page(request, principal, event)
    name = text_field(await read_form(request), "kiosk_name")
    svc = services(request)
    try:
        kiosk, code = await svc.writes.change(
            event.slug, store.create_kiosk, event.id, name, svc.now(), principal.actor
        )
    except (Invalid, AlreadyExists) as exc:
        errors = {"kiosk_name": "kiosk_taken" if isinstance(exc, AlreadyExists) else "kiosk_name"}
        return await kiosks_page(request, principal, event, exc.status, errors=errors, name=name)
    return await kiosks_page(request, principal, event, 201, pairing=(kiosk, code))


def _kiosk_id(request: Request) -> int:
    return int(request.path_params["kiosk_id"])


@event_page
async def kiosk_pairing(request: Request, principal: Principal, event: Event) -> Response:
    """GET (confirm) / POST: a new pairing code for a replaced tablet; the device paired before stops."""
    svc = services(request)
    kiosk = await svc.db.read(store.get_kiosk, event.id, _kiosk_id(request))
    if request.method == "GET":
        back = f"/admin/events/{event.slug}/kiosks"
        return page(
            request, principal, "admin/confirm.html", event=event, action="pair_kiosk", subject=kiosk.name, back=back
        )
    code = await svc.writes.store(store.new_pairing_code, event.id, kiosk.id, svc.now(), principal.actor)
    return await kiosks_page(request, principal, event, pairing=(kiosk, code))


@event_page
async def kiosk_revoke(request: Request, principal: Principal, event: Event) -> Response:
    """GET (confirm) / POST: revoke a kiosk; its token stops at its next request."""
    svc = services(request)
    kiosk = await svc.db.read(store.get_kiosk, event.id, _kiosk_id(request))
    back = f"/admin/events/{event.slug}/kiosks"
    if request.method == "GET":
        return page(
            request, principal, "admin/confirm.html", event=event, action="revoke_kiosk", subject=kiosk.name, back=back
        )
    await svc.writes.change(event.slug, store.revoke_kiosk, event.id, kiosk.id, svc.now(), principal.actor)
    return see_other(back, done="kiosk_revoked")


_ONE = "/admin/events/{slug}/kiosks/{kiosk_id:rowid}"
routes: list[BaseRoute] = [
    Route("/admin/events/{slug}/kiosks", kiosks, methods=["GET", "POST"]),
    Route(_ONE + "/pairing", kiosk_pairing, methods=["GET", "POST"]),
    Route(_ONE + "/revoke", kiosk_revoke, methods=["GET", "POST"]),
]

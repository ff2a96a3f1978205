"""The organisers' pages about access: API tokens by role (the secret is shown once, then only its hash
is kept) and their revocation."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from checkin.access import Principal
from checkin.errors import Invalid, NotFound
from checkin.models import Event, Role
from checkin.storage.staff import create_token, list_tokens, revoke_token
from checkin.text import single_line
from checkin.web.adminkit import event_page, page
from checkin.web.common import see_other, services
from checkin.web.forms import read_form, text_field

MAX_NAME = 100


def parse_token_form(role: str, name: str) -> tuple[Role, str]:
    """The role and name of a new token; Invalid with a code per bad field."""
    errors: dict[str, str] = {}
    name = single_line(name)
    if not name:
        errors["label"] = "required"
    elif len(name) > MAX_NAME:
        errors["label"] = "too_long"
    if role not in {r.value for r in Role}:
        errors["role"] = "choice"
    if errors:
        raise Invalid("the token form is not valid", fields=errors)
    return Role(role), name


async def tokens_page(
    request: Request, principal: Principal, event: Event, status: int = 200, **context: object
) -> Response:
    tokens = await services(request).db.read(list_tokens, event.id)
    base = services(request).settings.base_url
    return page(request, principal, "admin/tokens.html", status, event=event, tokens=tokens, base=base, **context)


@event_page
async def tokens(request: Request, principal: Principal, event: Event) -> Response:
    """GET: the event's tokens. POST: a new token, whose secret this one response shows."""
    if request.method == "GET":
        return await tokens_page(request, principal, event, tab="tokens", errors={}, values={})
    form = await read_form(request)
    values = {"role": text_field(form, "role"), "label": text_field(form, "label")}
    try:
        role, name = parse_token_form(values["role"], values["label"])
    except Invalid as exc:
        return await tokens_page(request, principal, event, 422, tab="tokens", errors=exc.fields, values=values)
    svc = services(request)
    created, secret = await svc.writes.store(create_token, event.id, role, name, svc.now(), principal.actor)
    return await tokens_page(
        request, principal, event, 201, tab="tokens", errors={}, values={}, created=created, secret=secret
    )


@event_page
async def token_revoke(request: Request, principal: Principal, event: Event) -> Response:
    """GET (confirm) / POST: revoke a token of this event; it stops at its next request."""
    svc = services(request)
    token_id = int(request.path_params["token_id"])
    if request.method == "GET":
        tokens = await svc.db.read(list_tokens, event.id)
        token = next((t for t in tokens if t.id == token_id and t.event_id == event.id), None)
        if token is None:
            raise NotFound("no such token for this event")
        return page(
            request,
            principal,
            "admin/confirm.html",
            event=event,
            action="revoke_token",
            token=token,
            back=request.url.path.rsplit("/", 2)[0],
        )
    await svc.writes.change(event.slug, revoke_token, token_id, svc.now(), principal.actor, event.id)
    return see_other(f"/admin/events/{event.slug}/tokens", done="token_revoked")


routes: list[BaseRoute] = [
    Route("/admin/events/{slug}/tokens", tokens, methods=["GET", "POST"]),
    Route("/admin/events/{slug}/tokens/{token_id:rowid}/revoke", token_revoke, methods=["GET", "POST"]),
]

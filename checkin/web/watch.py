"""The watch pages and the presence websocket of online viewers.

`/w/{code}` is a registrant's personal watch page; `/e/{slug}/watch` the anonymous one where the event
allows it. `/ws/events/{slug}/watch` (dispatched by `WatchSockets` ahead of Starlette, not by a route)
speaks JSON messages with a `type`: the page sends `{"type": "state", "watching": bool}`, the server
answers `hello` once, then an `ack` per state, or an `error` before closing with a 44xx code whose
reason is the error code.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from checkin.errors import CheckinError, EventNotFound, MessagesTooFast, Refusal, Refused, socket_close_code
from checkin.eventform import is_web_url
from checkin.models import Event, Status
from checkin.presence import Identity, RateLimit
from checkin.server.connections import AddressCounts, address_counts
from checkin.services import Services
from checkin.storage.registrants import lookup_code
from checkin.watching import identify
from checkin.web.common import client_address, event_of, services
from checkin.web.security import watch_policy
from checkin.web.templating import render

MAX_MESSAGE = 512
RATE_PER_SECOND, RATE_BURST = 2.0, 10.0
CLEAN_CLOSE = {1000, 1001, 1012}
WATCH_PATH = re.compile(r"/ws/events/(?P<slug>[^/]+)/watch")
PAGE_HEADERS = {"Cache-Control": "private, no-cache", "X-Robots-Tag": "noindex"}


class WatchSocket:
    """The ASGI side of one watch socket, kept small: thousands stay open for hours."""

    __slots__ = ("receive", "send")

    def __init__(self, receive: Receive, send: Send) -> None:
        self.receive = receive
        self.send = send

    async def send_json(self, data: dict[str, object]) -> None:
        """Send one JSON message; OSError if the peer has gone."""
        await self.send({"type": "websocket.send", "text": json.dumps(data, separators=(",", ":"), ensure_ascii=False)})

    async def refuse(self, error: CheckinError) -> None:
        """Say why, then close with the error's close code; a peer already gone is fine."""
        with contextlib.suppress(OSError):
            await self.send_json({"type": "error", "error": error.code})
            await self.send({"type": "websocket.close", "code": socket_close_code(error), "reason": error.code})

    async def accept_to_refuse(self, error: CheckinError) -> None:
        """Refuse a socket not accepted yet: it is accepted only to carry the reason and the close code."""
        with contextlib.suppress(OSError):
            await self.send({"type": "websocket.accept"})
        await self.refuse(error)


async def watch_socket(scope: Scope, receive: Receive, send: Send, slug: str) -> None:
    """Presence of one viewer's connection: identify, then follow its state until it goes."""
    socket = WatchSocket(receive, send)
    await receive()  # websocket.connect
    svc: Services = scope["app"].state.services
    # The event and the credential are checked before the socket is accepted and before anything the
    # peer sent is read; a refusal is accepted only to carry its close code.
    joined = await _join(socket, svc, slug, scope)
    if joined is None:
        return
    connection, viewer = joined
    await send({"type": "websocket.accept"})
    last_heard = svc.now()
    close_code = 1006
    try:
        await socket.send_json({"type": "hello", "viewer": viewer, "event": slug, "grace": svc.settings.watch_grace})
        close_code, last_heard = await _follow(socket, svc, connection, last_heard)
    except OSError:  # the peer went away while we were sending
        pass
    finally:
        now = svc.now()
        lost = close_code not in CLEAN_CLOSE
        # Lost without a close frame (found by an unanswered ping, or a reset): take when that ping went out,
        # the last moment it was presumably alive, rather than when the loss was noticed.
        last_alive = max(last_heard, now - svc.settings.ws_ping_timeout) if lost else now
        svc.watching.disconnect(connection, last_alive)


async def _join(socket: WatchSocket, svc: Services, slug: str, scope: Scope) -> tuple[int, str] | None:
    """Identify the viewer and register the connection: its id and the kind of viewer; None once refused.

    A function of its own so that what only the join needs (the query, the event) is let go once joined.
    """
    query = parse_qs(scope["query_string"].decode("latin-1"))
    try:
        event = await event_of(HTTPConnection(scope), slug)
        ticket, anon = query.get("ticket", [None])[0], query.get("anon", [None])[0]
        identity = await _anonymous_within_cap(svc, await identify(svc.db, event, ticket, anon), client_address(scope))
        connection = svc.watching.connect(identity)
    except CheckinError as exc:
        await socket.accept_to_refuse(exc)
        return None
    return connection, "anonymous" if identity.registrant_id is None else "registrant"


async def _anonymous_within_cap(svc: Services, identity: Identity, address: str) -> Identity:
    """An anonymous viewer with the address it comes from; Refused if that address already has its fill.

    Anyone can make up anonymous ids: without a cap, one machine could raise the figures at will.
    """
    if identity.registrant_id is not None:
        return identity
    identity = replace(identity, address=address)
    cap = svc.settings.max_anonymous_per_address
    if svc.settings.rate_limits and not await svc.watching.admits_anonymous(identity, cap):
        raise Refused(Refusal.TOO_MANY_ANONYMOUS)
    return identity


async def _follow(socket: WatchSocket, svc: Services, connection: int, last_heard: float) -> tuple[int, float]:
    """Read state messages until the socket closes; return its close code and when it was last heard."""
    limit = RateLimit(RATE_PER_SECOND, RATE_BURST)
    while True:
        message = await socket.receive()
        if message["type"] == "websocket.disconnect":
            return int(message.get("code") or 1005), last_heard
        last_heard = svc.now()
        if not limit.allow(last_heard):
            await socket.refuse(MessagesTooFast())
            return 1000, last_heard
        watching = parse_state(message.get("text"))
        del message  # not kept while waiting for the next one
        if watching is None:
            await socket.send_json({"type": "error", "error": "bad_message"})
            continue
        svc.watching.state(connection, watching)
        await socket.send_json({"type": "ack", "watching": watching})


def parse_state(text: object) -> bool | None:
    """The `watching` flag of a well-formed state message, else None."""
    if not isinstance(text, str) or len(text) > MAX_MESSAGE:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("type") != "state" or not isinstance(data.get("watching"), bool):
        return None
    return bool(data["watching"])


def stream_of(url: str) -> tuple[str, str]:
    """How to play a stream URL: ("hls" | "video" | "embed" | "none", the URL to use)."""
    if not is_web_url(url):  # checked again here: an old database may hold a javascript: or data: URL
        return "none", ""
    parts = urlsplit(url)
    path = parts.path.lower()
    if path.endswith(".m3u8"):
        return "hls", url
    if re.search(r"\.(mp4|m4v|webm|ogv|mov)$", path):
        return "video", url
    return "embed", _youtube_embed(parts.netloc.lower(), parts.path, parts.query) or url


def _youtube_embed(host: str, path: str, query: str) -> str | None:
    """The embeddable form of a YouTube watch, live or short link (the page URL itself refuses framing)."""
    video = None
    if host.endswith("youtube.com") and path == "/watch":
        video = parse_qs(query).get("v", [None])[0]
    elif host.endswith("youtube.com") and path.startswith("/live/"):
        video = path.split("/")[2]
    elif host == "youtu.be":
        video = path.strip("/")
    if not video or not re.fullmatch(r"[A-Za-z0-9_-]{6,20}", video):
        return None
    return f"https://www.youtube.com/embed/{video}"


def _page(request: Request, event: Event, ticket: str | None) -> Response:
    kind, src = stream_of(event.stream_url)
    context = {"event": event, "ticket": ticket, "stream_kind": kind, "stream_src": src}
    response = render(request, "watch.html", context)
    response.headers.update(PAGE_HEADERS)
    response.headers["content-security-policy"] = watch_policy(kind, src)
    return response


def _not_available(request: Request, reason: str, status: int) -> Response:
    response = render(request, "watch_error.html", {"reason": reason}, status_code=status)
    response.headers.update(PAGE_HEADERS)
    return response


async def personal_page(request: Request) -> Response:
    """A registrant's watch page, reached by the personal link of their ticket."""
    found = await services(request).db.read(lookup_code, str(request.path_params["code"])[:100])
    if found is None:
        return _not_available(request, "unknown", 404)
    if not found.ticket.valid or found.registrant.status is not Status.REGISTERED:
        return _not_available(request, "revoked", 410)
    return _page(request, found.event, found.ticket.code)


async def anonymous_page(request: Request) -> Response:
    """The open watch page of an event that allows anonymous viewers."""
    try:
        event = await event_of(request)
    except EventNotFound:
        return _not_available(request, "event_not_found", 404)
    if not event.anonymous_watch:
        return _not_available(request, "anonymous_not_allowed", 404)
    return _page(request, event, None)


def _served_by_uvicorns_own_protocol(receive: Receive) -> bool:
    """Whether uvicorn's own websocket protocol (not ours, as under `uvicorn --factory`) serves this socket."""
    owner = getattr(receive, "__self__", None)
    return owner is not None and type(owner).__module__.startswith("uvicorn.protocols.websockets")


class WatchSockets:
    """The application's entry, as a base of its class (`checkin.app.App`): watch sockets go straight to
    `watch_socket`, ahead of routing and exception layers; everything else to `serve_others`.

    Each layer keeps a coroutine frame and closures alive for as long as its connection is open — a few
    hundred bytes each per viewer, tens of MiB for an event's worth of them — so the socket skips them all,
    Starlette's own entry and error middleware included: a watch socket's first frame is this `__call__`.
    It also counts every open websocket (watch and dashboard) by client address, as forwarded by a
    trusted proxy, and refuses one past `max_connections_per_address` with 4429 before reading it.
    """

    sockets: AddressCounts | None = None  # made with the first socket, from the server's settings
    foreign_protocol_said = False

    def services_of(self) -> Services:
        """The running server's services (the application's state)."""
        raise NotImplementedError

    async def serve_others(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Everything but a watch socket: HTTP, the lifespan, dashboards' sockets."""
        raise NotImplementedError

    async def refuse_foreign_protocol(self, receive: Receive, send: Send) -> None:
        """A websocket served by another protocol than ours (`uvicorn --factory` with its own): refused, and
        said once in the log, since none of the bounds on frames, reading and buffering would hold."""
        if not self.foreign_protocol_said:
            self.foreign_protocol_said = True
            logging.getLogger("checkin").error(
                "websockets refused: this server does not run checkin's websocket protocol; start it with"
                " `checkin serve` (uvicorn's own protocols lack its limits on frames, reading and buffering)"
            )
        await receive()  # websocket.connect
        with contextlib.suppress(OSError):
            await send({"type": "websocket.close", "code": 1011, "reason": "use checkin serve"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.serve_others(scope, receive, send)
            return
        if _served_by_uvicorns_own_protocol(receive):
            await self.refuse_foreign_protocol(receive, send)
            return
        scope["app"] = self
        if self.sockets is None:
            self.sockets = address_counts(self.services_of().settings, "ws")
        address = client_address(scope)
        if not self.sockets.take(address):
            await receive()  # websocket.connect
            await WatchSocket(receive, send).accept_to_refuse(Refused(Refusal.TOO_MANY_CONNECTIONS))
            return
        try:
            slug = _watch_slug(scope)
            if slug is None:
                await self.serve_others(scope, receive, send)
            else:
                await watch_socket(scope, receive, send, slug)
        finally:
            self.sockets.release(address)


def _watch_slug(scope: Scope) -> str | None:
    """The event slug of a watch socket's path; None for anything else."""
    match = WATCH_PATH.fullmatch(scope["path"])
    return None if match is None else match["slug"]


routes: list[BaseRoute] = [
    Route("/w/{code}", personal_page),
    Route("/e/{slug}/watch", anonymous_page),
]

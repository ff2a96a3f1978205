"""Helpers every endpoint shares: services, bounded JSON bodies, event lookup, errors."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlencode

from starlette.background import BackgroundTask
from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import Scope

from checkin import mailer
from checkin.errors import BadRequest, CheckinError, PayloadTooLarge
from checkin.models import Event
from checkin.services import Services
from checkin.storage.events import get_event
from checkin.storage.registrants import Registration

log = logging.getLogger("checkin")
PACKAGE_DIR = Path(__file__).resolve().parent.parent


def front_end(name: str) -> Path:
    """A front-end folder (kiosk, static): inside the installed package (a wheel), else at the top of
    the repository, where it is edited and served as it is."""
    installed = PACKAGE_DIR / name
    return installed if installed.is_dir() else PACKAGE_DIR.parent / name


class RowIdConvertor(Convertor[int]):
    """A row id in a path (`{name:rowid}`): up to 18 digits, so it always fits SQLite's integer.

    A longer number matches no route (404) instead of overflowing in the database (a 500).
    """

    regex = "[0-9]{1,18}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor("rowid", RowIdConvertor())


def services(conn: HTTPConnection) -> Services:
    """The running server's services."""
    return cast(Services, conn.app.state.services)


def client_address(scope: Scope) -> str:
    """The client's address as every per-address limit sees it: the peer, or, behind a proxy named in
    CHECKIN_TRUSTED_PROXIES, the address it forwarded (uvicorn rewrites the scope before we see it)."""
    client = scope.get("client")
    return str(client[0]) if client else "-"


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused past `limit` bytes without reading it all (once: a form reader keeps it)."""
    kept: bytes | None = getattr(request.state, "body", None)
    if kept is not None:
        return kept
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise PayloadTooLarge(f"body larger than {limit} bytes")
        except ValueError as exc:
            raise BadRequest("bad Content-Length") from exc
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request) -> dict[str, Any]:
    """A JSON object body within the configured size, or a 4xx error."""
    body = await read_body(request, services(request).settings.max_body_bytes)
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest("the body is not valid JSON") from exc
    except RecursionError as exc:  # nested thousands deep: the parser gives up, and so do we
        raise BadRequest("the body is nested too deeply") from exc
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    return data


async def event_of(conn: HTTPConnection, slug: str | None = None) -> Event:
    """The event named by `slug` (by default the path's), or EventNotFound: how every endpoint gets its event.

    A `Database.lookup`: one SELECT by key (on SQLite right on the event loop, cheaper than the hand-off to a
    reading thread; on PostgreSQL through the pool), so even a storm of viewers joining at once needs no cache.
    """
    return await services(conn).db.lookup(get_event, str(conn.path_params["slug"]) if slug is None else slug)


def error_response(request: Request, exc: Exception) -> Response:
    """JSON errors of the contract; never a traceback."""
    if isinstance(exc, CheckinError):
        return JSONResponse(exc.as_json(), status_code=exc.status, headers=exc.headers)
    if isinstance(exc, HTTPException):
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(
            {"error": code, "message": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
        )
    log.error("unhandled error on %s %s: %r", request.method, request.url.path, exc)
    return JSONResponse({"error": "internal", "message": "internal error"}, status_code=500)


def see_other(url: str, background: BackgroundTask | None = None, **query: str) -> RedirectResponse:
    """After a form: go to `url` (a GET), saying what was done (`?done=`); e-mail may follow in the background."""
    return RedirectResponse(f"{url}?{urlencode(query)}" if query else url, status_code=303, background=background)


def mail_promoted(request: Request, event: Event, promoted: Sequence[Registration]) -> BackgroundTask | None:
    """E-mail the people a change moved up from the waiting list, once the answer has gone."""
    return BackgroundTask(mailer.notify_promoted, services(request), event, promoted) if promoted else None

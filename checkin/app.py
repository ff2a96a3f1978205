"""create_app(settings) -> Starlette: the routes of every module, the lifespan, error handlers."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from checkin.errors import CheckinError, StorageUnavailable
from checkin.services import Services, build
from checkin.settings import Settings
from checkin.web import admin, api, csp_report, dashboard, kiosk, kiosk_page, mail, openapi, pages, watch
from checkin.web.common import error_response, front_end
from checkin.web.security import REDACT_QUERY_STRINGS, SecurityHeaders

STATIC_DIR = front_end("static")
KIOSK_DIR = front_end("kiosk")


def all_routes() -> list[BaseRoute]:
    """Every module's routes, then the static files."""
    return [
        *kiosk.routes,  # first: the door's scans are the busiest requests, and routes are matched in order
        *api.routes,
        *pages.routes,
        *mail.routes,
        *admin.routes,
        *watch.routes,
        *dashboard.routes,
        *csp_report.routes,
        *openapi.routes,
        *kiosk_page.kiosk_routes(KIOSK_DIR),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]


def storage_unavailable(request: Request, exc: Exception) -> Response:
    """The JSON error of a disk fault, saying when to try again (the kiosk keeps the scan and retries)."""
    response = error_response(request, exc)
    response.headers["Retry-After"] = str(StorageUnavailable.retry_after)
    return response


class App(watch.WatchSockets, Starlette):
    """The Starlette application, entered through `watch.WatchSockets`: a viewer's socket keeps no frame of
    Starlette's entry or error middleware alive (~600 bytes a viewer, 30 MiB at 50,000)."""

    def services_of(self) -> Services:
        services: Services = self.state.services
        return services

    async def serve_others(self, scope: Scope, receive: Receive, send: Send) -> None:
        await Starlette.__call__(self, scope, receive, send)


def create_app(settings: Settings | None = None, services: Services | None = None) -> Starlette:
    """The web application; its lifespan opens the database and stops everything cleanly."""
    svc = services or build(settings or Settings.from_env())
    logging.getLogger("uvicorn.error").addFilter(REDACT_QUERY_STRINGS)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        svc.start()
        await svc.connect()
        await svc.watching.start()
        try:
            yield
        finally:
            await svc.watching.stop()
            await svc.disconnect()
            svc.stop()

    app = App(
        routes=all_routes(),
        lifespan=lifespan,
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={
            CheckinError: error_response,
            StorageUnavailable: storage_unavailable,
            HTTPException: error_response,
            Exception: error_response,
        },
    )
    app.state.services = svc
    return app

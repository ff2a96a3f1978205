"""create_app(settings) -> Starlette: the routes of every module, the lifespan, error handlers."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from checkin.errors import CheckinError
from checkin.services import Services, build
from checkin.settings import Settings
from checkin.web import admin, api, dashboard, kiosk, kiosk_page, mail, openapi, pages, watch
from checkin.web.common import error_response
from checkin.web.security import REDACT_QUERY_STRINGS, SecurityHeaders

ROOT = Path(__file__).resolve().parent.parent
STATIC_DIR = ROOT / "static"
KIOSK_DIR = ROOT / "kiosk"


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
        *openapi.routes,
        *kiosk_page.kiosk_routes(KIOSK_DIR),
        Mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static"),
    ]


def create_app(settings: Settings | None = None, services: Services | None = None) -> Starlette:
    """The web application; its lifespan opens the database and stops everything cleanly."""
    svc = services or build(settings or Settings.from_env())
    logging.getLogger("uvicorn.error").addFilter(REDACT_QUERY_STRINGS)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        svc.start()
        await svc.watching.start()
        try:
            yield
        finally:
            await svc.watching.stop()
            svc.stop()

    app = Starlette(
        routes=all_routes(),
        lifespan=lifespan,
        middleware=[Middleware(watch.WatchSockets), Middleware(SecurityHeaders)],
        exception_handlers={
            CheckinError: error_response,
            HTTPException: error_response,
            Exception: error_response,
        },
    )
    app.state.services = svc
    return app

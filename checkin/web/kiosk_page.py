"""The reception kiosk's static app at `/kiosk/` (HTML, ES modules, service worker)."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope


class KioskFiles(StaticFiles):
    """Static files that the browser revalidates on every load, so a fixed kiosk gets updates at once."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["cache-control"] = "no-cache"
        return response


async def kiosk_root(request: Request) -> RedirectResponse:
    """`/kiosk` to `/kiosk/`, so relative module paths and the service worker scope work (a #fragment stays)."""
    return RedirectResponse("/kiosk/", status_code=308)


def kiosk_routes(directory: Path) -> list[BaseRoute]:
    """`/kiosk` redirects; `/kiosk/` serves index.html and `/kiosk/*` the app's files from `directory`."""
    return [
        Route("/kiosk", kiosk_root),
        Mount(
            "/kiosk",
            KioskFiles(
                directory=directory,
                html=True,
            ),
            name="kiosk",
        ),
    ]

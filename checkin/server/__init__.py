"""How the process serves: uvicorn's options, and the protocols checkin runs under it (HTTP guard, websocket).

Below the endpoints (`checkin.web`), which know nothing of it but the per-address counts they share.
"""

from __future__ import annotations

from typing import Any

from checkin.server.connections import http_protocol
from checkin.server.websocket import WebSocketProtocol
from checkin.settings import Settings

GRACEFUL_SHUTDOWN_SECONDS = 30


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """How the server runs under uvicorn (the tests' live server runs the same way)."""
    return {
        "access_log": False,
        # uvicorn's httptools protocol with a deadline for request headers and a cap per client address.
        "http": http_protocol(settings),
        # X-Forwarded-For is believed only from the proxies named in CHECKIN_TRUSTED_PROXIES: every
        # per-address limit then sees the real client, and nobody else can pick their own address.
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": list(settings.trusted_proxies) or None,
        # Our websocket protocol keeps a few hundred bytes per open socket where uvicorn's keeps ~20 KiB;
        # it negotiates no extensions (permessage-deflate would cost ~40 KiB per socket).
        "ws": WebSocketProtocol,
        "ws_max_size": settings.max_body_bytes,
        "ws_ping_interval": settings.ws_ping_interval,
        "ws_ping_timeout": settings.ws_ping_timeout,
        # A stop (SIGTERM) answers requests in flight, closes websockets with 1012, and waits this long
        # at most for connections still open (a slow upload) before ending them.
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
    }

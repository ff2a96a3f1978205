"""Headers that every response carries, the Content-Security-Policy of each kind of page among them."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The policy every page starts from: only this origin's files, no inline script, style or handlers, no
# eval, no plug-ins, no <base>, forms post only here, and no page may be framed (clickjacking), the
# projector's dashboard included. `data:` images: the admin shows a pairing QR code inline, so the
# one-time code never appears in a URL.
BASE_POLICY: Mapping[str, tuple[str, ...]] = {
    "default-src": ("'self'",),
    "script-src": ("'self'",),
    "style-src": ("'self'",),
    "img-src": ("'self'", "data:"),
    "connect-src": ("'self'",),
    "object-src": ("'none'",),
    "base-uri": ("'none'",),
    "form-action": ("'self'",),
    "frame-ancestors": ("'none'",),
}
CSP = b"content-security-policy"
KIOSK_PREFIX = "/kiosk"
REPORT_PATH = "/csp-report"  # where browsers post what a policy blocked: checkin.web.csp_report


def policy(extra: Mapping[str, Sequence[str]] | None = None) -> str:
    """The base policy with `extra` sources added to its directives (a new directive starts from 'self')."""
    directives = {name: list(sources) for name, sources in BASE_POLICY.items()}
    for name, sources in (extra or {}).items():
        current = directives.setdefault(name, ["'self'"])
        current.extend(source for source in sources if source not in current)
    directives["report-uri"] = [REPORT_PATH]  # report-uri, not report-to: Chromium sends these at once
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


PAGE_POLICY = policy()
# The kiosk decodes QR codes with WebAssembly in its worker (which takes this policy from its own
# response): compiling needs 'wasm-unsafe-eval', which allows no JavaScript eval. blob: workers, for a
# decoder that builds its worker from a blob, can only be started by script this policy already runs.
KIOSK_POLICY = policy({"script-src": ["'wasm-unsafe-eval'"], "worker-src": ["blob:"]})

_HOST = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*")


def source_origin(url: str) -> str | None:
    """`scheme://host[:port]` of an absolute http(s) URL, safe to put in a policy; None for anything else."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
        host = (parts.hostname or "").encode("idna").decode("ascii")
    except (ValueError, UnicodeError):
        return None
    # Only plain host names and IPv4 addresses: whatever else a URL holds (quotes, `;`, spaces) could
    # otherwise add sources or directives to the policy.
    if parts.scheme not in {"http", "https"} or not _HOST.fullmatch(host):
        return None
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


def watch_policy(stream_kind: str, stream_src: str) -> str:
    """The watch page's policy: the base one, plus the one origin its stream (or embed) comes from."""
    origin = source_origin(stream_src)
    here = [origin] if origin else []  # a relative address is on this origin: 'self' already covers it
    if stream_kind == "hls":
        # hls.js fetches the playlist and segments, feeds them to the video as a blob: MediaSource and
        # transmuxes in a worker it starts from a blob:; the browser's own HLS only needs media-src.
        return policy({"connect-src": here, "media-src": [*here, "blob:"], "worker-src": ["blob:"]})
    if stream_kind == "video":
        return policy({"media-src": here})
    if stream_kind == "embed":
        return policy({"frame-src": here})
    return PAGE_POLICY


def policy_for_path(path: str) -> str:
    """The policy of a response that has not chosen its own: the kiosk's app, or every other page's."""
    if path == KIOSK_PREFIX or path.startswith(KIOSK_PREFIX + "/"):
        return KIOSK_POLICY
    return PAGE_POLICY


HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),  # frame-ancestors 'none' for browsers that predate it
]


class SecurityHeaders:
    """Adds nosniff, no-referrer (ticket codes live in URLs), frame protection and the page's CSP."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Every response, not only HTML: a worker or service worker script runs under its own response's
        # policy, and a JSON or image response opened directly is still a document.
        defaults = [*HEADERS, (CSP, policy_for_path(scope["path"]).encode("ascii"))]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                existing = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(name, value) for name, value in defaults if name not in existing]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RedactQueryStrings(logging.Filter):
    """Cuts query strings out of uvicorn's websocket log lines: `?ticket=` and `?token=` are credentials."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                arg.split("?", 1)[0] if isinstance(arg, str) and "?" in arg else arg for arg in record.args
            )
        return True


REDACT_QUERY_STRINGS = RedactQueryStrings()

"""`POST /csp-report`: browsers report what the Content-Security-Policy blocked; one log line each.

Only what says which rule broke on which kind of page is kept: the directive, the blocked resource's
origin (or `inline`, `eval`, `data`, `blob`) and the page's kind. Page addresses hold ticket codes and
reports can carry script samples and form data, so neither paths, queries nor samples are logged, nor
the sender's address. Bodies are bounded and the log lines rate-limited, so a page (or anyone) posting
reports in a loop can neither fill the log nor hold memory.
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from checkin.errors import BadRequest
from checkin.presence import RateLimit
from checkin.web.common import read_body
from checkin.web.security import REPORT_PATH, source_origin

log = logging.getLogger("checkin.csp")

MAX_REPORT_BYTES = 8 * 1024
LINES_PER_SECOND, LINES_BURST = 1.0, 30.0
PAGE_KINDS = {"e": "event", "t": "ticket", "w": "watch", "admin": "admin", "kiosk": "kiosk", "dashboard": "dashboard"}
KEYWORDS = {"inline", "eval", "wasm-eval", "trusted-types-policy", "trusted-types-sink", "data", "blob", "self"}
_DIRECTIVE = re.compile(r"[a-z-]{1,40}")


def page_kind(document_uri: object) -> str:
    """The kind of page a report came from, from its address's first segment; `other` for the rest."""
    if not isinstance(document_uri, str):
        return "other"
    segment = re.sub(r"^[a-z]+://[^/]*", "", document_uri).lstrip("/").split("/", 1)[0].split("?", 1)[0]
    return PAGE_KINDS.get(segment, "other")


def blocked_source(blocked_uri: object) -> str:
    """What was blocked, without a path: a keyword (`inline`, `eval`, a scheme) or an origin."""
    if not isinstance(blocked_uri, str) or not blocked_uri:
        return "unknown"
    if blocked_uri in KEYWORDS:
        return blocked_uri
    scheme = blocked_uri.split(":", 1)[0].lower()
    if scheme in {"data", "blob", "filesystem", "javascript"}:
        return scheme
    return source_origin(blocked_uri) or "other"


def summary(body: Any) -> str | None:
    """The one line worth logging from a report-uri body (`{"csp-report": {...}}`); None if it is none."""
    report = body.get("csp-report") if isinstance(body, dict) else None
    if not isinstance(report, dict):
        return None
    directive = report.get("effective-directive") or report.get("violated-directive")
    name = directive.split()[0] if isinstance(directive, str) and directive.strip() else ""
    if not _DIRECTIVE.fullmatch(name):
        return None
    disposition = "report-only" if report.get("disposition") == "report" else "blocked"
    source, page = blocked_source(report.get("blocked-uri")), page_kind(report.get("document-uri"))
    return f"{disposition} directive={name} source={source} page={page}"


def _bucket(request: Request) -> RateLimit:
    """This server's budget of report log lines."""
    bucket = getattr(request.app.state, "csp_reports", None)
    if bucket is None:
        bucket = request.app.state.csp_reports = RateLimit(LINES_PER_SECOND, LINES_BURST)
    return bucket


async def csp_report(request: Request) -> Response:
    """Log one violation report (204); 400 for a body that is not a report, 413 past 8 KiB."""
    body = await read_body(request, MAX_REPORT_BYTES)
    try:
        line = summary(json.loads(body))
    except (UnicodeDecodeError, json.JSONDecodeError):
        line = None
    if line is None:
        raise BadRequest("not a CSP violation report")
    if _bucket(request).allow(time.monotonic()):
        log.warning("csp violation: %s", line)
    return Response(status_code=204)


routes: list[BaseRoute] = [Route(REPORT_PATH, csp_report, methods=["POST"])]

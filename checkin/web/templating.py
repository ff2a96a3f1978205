"""Pages for the browser: a template rendered in the visitor's language, which comes from the request."""

from __future__ import annotations

from typing import Any

from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse

from checkin.display import env
from checkin.i18n import DEFAULT, LANGS, translate


def language(conn: HTTPConnection) -> str:
    """The visitor's language: ?lang=, then the `lang` cookie, else Japanese."""
    for candidate in (conn.query_params.get("lang"), conn.cookies.get("lang")):
        if candidate in LANGS:
            return candidate
    return DEFAULT


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    """Render a template with `lang`, `t(key, **values)` and `request` available."""
    lang = language(request)

    def t(key: str, **values: object) -> str:
        return translate(key, lang, **values)

    html = env.get_template(name).render(request=request, lang=lang, t=t, **context)
    response = HTMLResponse(html, status_code=status_code)
    if request.query_params.get("lang") == lang:
        response.set_cookie("lang", lang, max_age=365 * 86400, samesite="lax")
    return response

"""Jinja2 templates with the i18n helper `t`, the visitor's language and date formatting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from checkin.i18n import language, translate
from checkin.models import to_datetime

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
_WEEKDAYS = {"ja": "月火水木金土日", "en": None}


def format_datetime(epoch: float, lang: str = "ja", with_date: bool = True) -> str:
    """A time in JST as people read it: 2023年11月27日(月) 13:30 / Mon 27 Nov 2023 13:30."""
    moment = to_datetime(epoch)
    if lang == "ja":
        day = f"{moment.year}年{moment.month}月{moment.day}日({'月火水木金土日'[moment.weekday()]}) "
        return (day if with_date else "") + moment.strftime("%H:%M")
    return moment.strftime("%a %d %b %Y %H:%M" if with_date else "%H:%M")


env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html", "xml"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
env.globals["translate"] = translate
env.filters["datetime"] = format_datetime


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

"""How things look to people, with no HTTP in it: the Jinja2 templates and the date formatting.

Pages (`checkin.web.templating`), the ticket e-mail and the command line share them.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from checkin.i18n import translate
from checkin.models import to_datetime

TEMPLATES = Path(__file__).resolve().parent / "templates"


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

"""“Add to calendar” links for Google Calendar and Outlook.com, built on the server.

They carry only what the event page shows anyone (title, times, place, the event page's address):
never a ticket code or anything about the registrant, since these URLs go to a third party.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

from checkin.models import Event

GOOGLE = "https://calendar.google.com/calendar/render"
OUTLOOK = "https://outlook.live.com/calendar/0/deeplink/compose"


@dataclass(frozen=True)
class CalendarLinks:
    google: str
    outlook: str


def _utc(epoch: float, pattern: str) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime(pattern)


def calendar_links(event: Event, base_url: str, lang: str = "ja") -> CalendarLinks:
    """The event's "add event" links; `base_url` makes the public event page's address."""
    title = event.text("title", lang)
    place = " ".join(part for part in (event.venue_name, event.venue_address) if part)
    details = "\n".join(part for part in (event.text("summary", lang), f"{base_url}/e/{event.slug}/") if part)
    google = {
        "action": "TEMPLATE",
        "text": title,
        "dates": f"{_utc(event.starts_at, '%Y%m%dT%H%M%SZ')}/{_utc(event.ends_at, '%Y%m%dT%H%M%SZ')}",
        "details": details,
        "location": place,
        "ctz": event.timezone,
    }
    outlook = {
        "path": "/calendar/action/compose",
        "rru": "addevent",
        "subject": title,
        "startdt": _utc(event.starts_at, "%Y-%m-%dT%H:%M:%SZ"),
        "enddt": _utc(event.ends_at, "%Y-%m-%dT%H:%M:%SZ"),
        "body": details,
        "location": place,
    }
    return CalendarLinks(f"{GOOGLE}?{urlencode(google)}", f"{OUTLOOK}?{urlencode(outlook)}")

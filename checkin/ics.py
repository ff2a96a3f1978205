"""An iCalendar (.ics) file for an event, for tickets and their e-mail. Pure."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from urllib.parse import urlsplit

from checkin.models import Event


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _stamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y%m%dT%H%M%SZ")


def _fold(line: str) -> list[str]:
    """Lines of at most 75 octets, continued with a leading space (RFC 5545 3.1)."""
    out: list[str] = []
    current = ""
    for ch in line:
        if len((current + ch).encode("utf-8")) > (75 if not out else 74):
            out.append(current)
            current = ch
        else:
            current += ch
    out.append(current)
    return [out[0], *(" " + part for part in out[1:])]


def ticket_uid(event: Event, registrant_id: int, base_url: str) -> str:
    """The calendar UID of one person's place at an event: the same from the ticket page and the e-mail.

    A hash of the event and registrant ids (nothing personal) at the host of the base URL; it stays
    the same when the ticket is re-issued, so calendars update the entry they have instead of adding one.
    """
    digest = hashlib.sha256(f"checkin-ticket:{event.id}:{registrant_id}".encode()).hexdigest()[:32]
    return f"{digest}@{urlsplit(base_url).hostname or 'localhost'}"


def event_ics(event: Event, registrant_id: int, *, base_url: str, url: str, now: float, description: str = "") -> str:
    """One VEVENT for the event, linking to the ticket page; CRLF line ends."""
    uid = ticket_uid(event, registrant_id, base_url)
    location = ", ".join(part for part in (event.venue_name, event.venue_address) if part)
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//checkin//ticket//JA",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:{uid}",
        f"DTSTAMP:{_stamp(now)}",
        f"DTSTART:{_stamp(event.starts_at)}",
        f"DTEND:{_stamp(event.ends_at)}",
        f"SUMMARY:{_escape(event.title)}",
        f"LOCATION:{_escape(location)}",
        f"DESCRIPTION:{_escape(description or url)}",
        f"URL:{url}",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "\r\n".join(folded for line in lines for folded in _fold(line)) + "\r\n"

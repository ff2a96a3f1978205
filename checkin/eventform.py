"""Event settings as organisers type them in the admin: parsing, validation, capacity rule. No I/O.

Times come from `datetime-local` inputs and are read in the event's zone (JST); errors are codes
per field, which the admin shows in Japanese.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, cast
from urllib.parse import urlsplit

from checkin.errors import CapacityBelowSeats, Invalid
from checkin.models import JST, Event, to_datetime
from checkin.text import single_line

MAX_TITLE = 200
MAX_VENUE = 200
MAX_ADDRESS = 300
MAX_URL = 2000
MAX_CAPACITY = 100_000
MAX_SHORT = 100
MAX_LONG = 2000
TEXTS = {
    "title": MAX_TITLE,
    "venue_name": MAX_VENUE,
    "venue_address": MAX_ADDRESS,
    "title_en": MAX_TITLE,
    "fee": MAX_SHORT,
    "fee_en": MAX_SHORT,
    "organisers": MAX_ADDRESS,
    "organisers_en": MAX_ADDRESS,
    "deadline": MAX_SHORT,
    "deadline_en": MAX_SHORT,
}
# Texts whose line breaks matter (the programme is one item a line).
LONG_TEXTS = {name: MAX_LONG for name in ("summary", "summary_en", "programme", "programme_en")} | {
    name: MAX_ADDRESS * 2 for name in ("access", "access_en", "contact", "contact_en")
}
URLS = ("map_url", "stream_url")
_LINE_BREAK = re.compile(r"\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]")
CHECKBOXES = ("registration_open", "waitlist_enabled", "anonymous_watch", "projector_names")
# Slugs name folders, files and URL paths (outbox messages, CSV files, /e/{slug}/): nothing else may pass.
_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{1,39}")


def is_slug(value: str) -> bool:
    """Whether a slug is one an event may have: 2-40 of a-z, 0-9 and '-', not starting with '-'."""
    return _SLUG.fullmatch(value) is not None


def is_web_url(value: str) -> bool:
    """Whether a URL is an http(s) address a page may link to or embed (never javascript:, data: ...)."""
    parts = urlsplit(value)
    return (
        len(value) <= MAX_URL
        and parts.scheme in {"http", "https"}
        and bool(parts.netloc)
        and not any(ch.isspace() or unicodedata.category(ch)[0] == "C" for ch in value)
    )


def check_capacity(new_capacity: int, seats_taken: int) -> None:
    """Refuse a capacity lower than the seats registered people already hold."""
    if new_capacity < seats_taken:
        raise CapacityBelowSeats(seats_taken)


def local_input(epoch: float) -> str:
    """A time as a `datetime-local` input shows it, in JST."""
    return to_datetime(epoch).strftime("%Y-%m-%dT%H:%M")


def multi_line(text: str) -> str:
    """Each line cleaned as `single_line`; no blank lines at the ends nor two in a row."""
    lines = [single_line(line) for line in _LINE_BREAK.split(text)]
    kept = [line for i, line in enumerate(lines) if line or (i > 0 and lines[i - 1])]
    return "\n".join(kept).strip("\n")


def base_url(value: str) -> str | None:
    """A public base URL (scheme, host, optional path; no query or fragment) without its final '/',
    '' for none, None when it is not one."""
    value = value.strip().rstrip("/")
    if not value:
        return ""
    parts = urlsplit(value)
    return value if is_web_url(value) and not parts.query and not parts.fragment and "?" not in value else None


def form_values(event: Event) -> dict[str, str]:
    """An event's settings as the form's field values."""
    names = (*TEXTS, *LONG_TEXTS, *URLS, "capacity", "base_url")
    values = {name: str(getattr(event, name)) for name in names}
    values["hall_capacity"] = "" if event.hall_capacity is None else str(event.hall_capacity)
    values["starts_at"] = local_input(event.starts_at)
    values["ends_at"] = local_input(event.ends_at)
    values["doors_open_at"] = local_input(event.doors_open_at) if event.doors_open_at is not None else ""
    values.update({name: "on" for name in CHECKBOXES if getattr(event, name)})
    return values


# What organisers edit: every field of an event but its identity and time zone (a new field is added to Event only).
EDITABLE = tuple(field.name for field in fields(Event) if field.name not in {"id", "slug", "timezone"})


@dataclass(frozen=True)
class EventSettings(Event):
    """The editable settings of an event, validated: an event not yet given its id and slug."""

    def changes(self) -> dict[str, object]:
        """As a mapping of column to value (for `update_event`)."""
        return {name: getattr(self, name) for name in EDITABLE}


def _time(value: str) -> float | str:
    """Epoch seconds from a `datetime-local` value (JST unless it names an offset), or the error code."""
    if not value.strip():
        return "required"
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return "date"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=JST)
    return moment.timestamp()


def _url(value: str) -> str | None:
    """A web address (or ''), None when it is not one."""
    value = value.strip()
    if not value:
        return ""
    return value if is_web_url(value) else None


def _capacity(value: str) -> int | str:
    """The capacity, or the error code."""
    text = value.strip()
    if not text:
        return "required"
    if not re.fullmatch(r"[0-9]{1,7}", text):
        return "number"
    capacity = int(text)
    return capacity if capacity <= MAX_CAPACITY else "range"


def _hall_capacity(value: str) -> int | str | None:
    """The hall capacity (blank: None, the registration capacity stands), or the error code."""
    return None if not value.strip() else _capacity(value)


def parse_settings(form: Mapping[str, str]) -> EventSettings:
    """The editable settings from the form's fields; Invalid with a code per bad field."""
    errors: dict[str, str] = {}
    texts: dict[str, str] = {}
    for name, limit in TEXTS.items():
        texts[name] = single_line(form.get(name, ""))
        if name == "title" and not texts[name]:
            errors[name] = "required"
        elif len(texts[name]) > limit:
            errors[name] = "too_long"
    for name, limit in LONG_TEXTS.items():
        texts[name] = multi_line(form.get(name, ""))
        if len(texts[name]) > limit:
            errors[name] = "too_long"
    public_base = base_url(form.get("base_url", ""))
    if public_base is None:
        errors["base_url"] = "url"
    doors = _time(form.get("doors_open_at", "")) if form.get("doors_open_at", "").strip() else None
    if isinstance(doors, str):
        errors["doors_open_at"] = doors
    urls: dict[str, str] = {}
    for name in URLS:
        url = _url(form.get(name, ""))
        if url is None:
            errors[name] = "url"
        urls[name] = url or ""
    starts, ends, capacity = (
        _time(form.get("starts_at", "")),
        _time(form.get("ends_at", "")),
        _capacity(form.get("capacity", "")),
    )
    hall_capacity = _hall_capacity(form.get("hall_capacity", ""))
    for name, value in (
        ("starts_at", starts),
        ("ends_at", ends),
        ("capacity", capacity),
        ("hall_capacity", hall_capacity),
    ):
        if isinstance(value, str):
            errors[name] = value
    if isinstance(starts, float) and isinstance(ends, float) and ends <= starts:
        errors["ends_at"] = "order"
    # Doors open before the start, on the same day or the evening before at the earliest.
    if isinstance(doors, float) and isinstance(starts, float) and not starts - 86400 <= doors <= starts:
        errors["doors_open_at"] = "doors_order"
    if errors:
        raise Invalid("some settings are not valid", fields=errors)
    assert isinstance(starts, float) and isinstance(ends, float) and isinstance(capacity, int)
    assert not isinstance(doors, str)
    return EventSettings(
        id=0,
        slug="",
        **cast(dict[str, Any], texts),
        starts_at=starts,
        ends_at=ends,
        capacity=capacity,
        doors_open_at=doors,
        base_url=public_base or "",
        map_url=urls["map_url"],
        stream_url=urls["stream_url"],
        registration_open=form.get("registration_open") == "on",
        waitlist_enabled=form.get("waitlist_enabled") == "on",
        anonymous_watch=form.get("anonymous_watch") == "on",
        projector_names=form.get("projector_names") == "on",
        hall_capacity=hall_capacity if isinstance(hall_capacity, int) else None,
    )


def parse_new_event(form: Mapping[str, str]) -> Event:
    """A new event from the creation form (slug and settings); Invalid with a code per bad field."""
    slug = form.get("slug", "").strip().lower()
    errors: dict[str, str] = {} if is_slug(slug) else {"slug": "slug" if slug else "required"}
    try:
        settings = parse_settings(form)
    except Invalid as exc:
        raise Invalid(exc.message, fields={**errors, **exc.fields}) from exc
    if errors:
        raise Invalid("some settings are not valid", fields=errors)
    return Event(id=0, slug=slug, **cast(dict[str, Any], settings.changes()))

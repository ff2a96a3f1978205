"""Frozen records and enums shared by the domain, storage and web modules."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")


class Mode(enum.StrEnum):
    VENUE = "venue"
    ONLINE = "online"


class Status(enum.StrEnum):
    REGISTERED = "registered"
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"


class Role(enum.StrEnum):
    ORGANISER = "organiser"
    KIOSK = "kiosk"
    DASHBOARD = "dashboard"


def to_datetime(epoch: float, tz: ZoneInfo = JST) -> datetime:
    """An epoch timestamp as an aware datetime in the event's zone."""
    return datetime.fromtimestamp(epoch, UTC).astimezone(tz)


def iso(epoch: float | None, tz: ZoneInfo = JST) -> str | None:
    """ISO 8601 with offset, seconds precision, in the event's zone (None stays None)."""
    if epoch is None:
        return None
    return to_datetime(epoch, tz).isoformat(timespec="seconds")


def parse_iso(text: str) -> float:
    """An ISO 8601 time with offset as epoch seconds; a naive time is taken as JST."""
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=JST)
    return moment.timestamp()


@dataclass(frozen=True)
class Event:
    id: int
    slug: str
    title: str
    starts_at: float
    ends_at: float
    capacity: int
    venue_name: str = ""
    venue_address: str = ""
    map_url: str = ""
    stream_url: str = ""
    registration_open: bool = True
    waitlist_enabled: bool = True
    anonymous_watch: bool = False
    projector_names: bool = False  # whether a projector (dashboard token) shows who checked in
    timezone: str = "Asia/Tokyo"
    # What the flyer says, Japanese with an optional English version (`*_en`); multi-line texts keep
    # their line breaks (the programme is one item a line).
    title_en: str = ""
    summary: str = ""
    summary_en: str = ""
    fee: str = ""
    fee_en: str = ""
    organisers: str = ""
    organisers_en: str = ""
    programme: str = ""
    programme_en: str = ""
    deadline: str = ""
    deadline_en: str = ""
    doors_open_at: float | None = None
    access: str = ""
    access_en: str = ""
    contact: str = ""
    contact_en: str = ""
    # Where attendees reach the server (no trailing slash): ticket links in e-mails, exports and pages.
    base_url: str = ""
    hall_capacity: int | None = None  # people in the hall at once (会場定員); None: the same as `capacity`

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def text(self, name: str, lang: str = "ja") -> str:
        """A flyer text in the visitor's language: the English version where there is one, else Japanese."""
        if lang == "en":
            english = str(getattr(self, f"{name}_en", "") or "")
            if english:
                return english
        return str(getattr(self, name))

    def lines(self, name: str, lang: str = "ja") -> list[str]:
        """A multi-line flyer text (the programme) as its non-empty lines."""
        return [line.strip() for line in self.text(name, lang).splitlines() if line.strip()]

    def quoted_title(self, lang: str = "ja") -> str:
        """The title in quotation marks for running text; a title that already carries them stays as it is."""
        title = self.text("title", lang)
        if lang == "en":
            return title if any(mark in title for mark in '“"「') else f"“{title}”"
        return title if any(mark in title for mark in "「『") else f"「{title}」"

    def links_base(self, fallback: str) -> str:
        """The public base URL for this event's links: its own, else the server's."""
        return self.base_url or fallback

    @property
    def hall_limit(self) -> int:
        """The hall capacity in force: its own figure, else the registration capacity."""
        return self.capacity if self.hall_capacity is None else self.hall_capacity


@dataclass(frozen=True)
class Registrant:
    id: int
    event_id: int
    ref_no: str
    name: str
    kana: str
    email: str
    organisation: str
    mode: Mode
    status: Status
    created_at: float
    source: str = "web"

    def public(self) -> dict[str, object]:
        """The registrant fields of the HTTP contract."""
        return {
            "id": self.id,
            "ref_no": self.ref_no,
            "name": self.name,
            "kana": self.kana,
            "email": self.email,
            "organisation": self.organisation,
            "mode": self.mode.value,
            "status": self.status.value,
        }


@dataclass(frozen=True)
class Ticket:
    id: int
    registrant_id: int
    code: str
    issued_at: float
    revoked_at: float | None = None

    @property
    def valid(self) -> bool:
        return self.revoked_at is None

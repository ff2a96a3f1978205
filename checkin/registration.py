"""Registration rules: validating one person's application and deciding their status. No I/O."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from checkin.errors import Invalid, VenueFull
from checkin.models import Mode, Status
from checkin.text import email_key, furigana, nfkc, single_line

MAX_NAME = 100
MAX_ORG = 200
MAX_EMAIL = 254
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_KANA = re.compile(r"^[\u30a0-\u30ff\u3040-\u309f\u30fc\s・ー]+$")
MODE_WORDS = {
    "venue": Mode.VENUE,
    "会場参加": Mode.VENUE,
    "会場": Mode.VENUE,
    "online": Mode.ONLINE,
    "オンライン参加": Mode.ONLINE,
    "オンライン": Mode.ONLINE,
}


@dataclass(frozen=True)
class Application:
    """One person's validated registration."""

    name: str
    kana: str
    email: str
    organisation: str
    mode: Mode

    @property
    def email_key(self) -> str:
        return email_key(self.email)


def parse_mode(value: object) -> Mode | None:
    """A mode from the API word or the Japanese form label; None when it is neither."""
    if not isinstance(value, str):
        return None
    return MODE_WORDS.get(nfkc(value).lower())


def validate(data: Mapping[str, object], *, require_kana: bool = True) -> Application:
    """Check the fields of one application; raise Invalid with a message per bad field."""
    errors: dict[str, str] = {}

    def text(field: str, limit: int, required: bool) -> str:
        value = data.get(field, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            errors[field] = "type"
            return ""
        value = single_line(value)
        if required and not value:
            errors[field] = "required"
        elif len(value) > limit:
            errors[field] = "too_long"
        return value

    name = text("name", MAX_NAME, True)
    kana = furigana(text("kana", MAX_NAME, require_kana))  # typed in hiragana, stored in katakana
    email = nfkc(text("email", MAX_EMAIL, True))
    organisation = text("organisation", MAX_ORG, False)
    if kana and "kana" not in errors and not _KANA.match(kana):
        errors["kana"] = "not_kana"
    if email and "email" not in errors and not _EMAIL.match(email):
        errors["email"] = "format"
    mode = parse_mode(data.get("mode"))
    if mode is None:
        errors["mode"] = "required" if not data.get("mode") else "choice"
    if errors:
        raise Invalid("some fields are not valid", fields=errors)
    assert mode is not None
    return Application(name=name, kana=kana, email=email, organisation=organisation, mode=mode)


def decide_status(mode: Mode, seats_taken: int, capacity: int, waitlist_enabled: bool) -> Status:
    """Registered while seats remain (online always); then the waiting list, or VenueFull."""
    if mode is Mode.ONLINE or seats_taken < capacity:
        return Status.REGISTERED
    if waitlist_enabled:
        return Status.WAITLISTED
    raise VenueFull("the venue is full")

"""Registration rules: validating one person's application and deciding their status. No I/O."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

from checkin.errors import Invalid, VenueFull
from checkin.models import Mode, Status
from checkin.text import email_key, furigana, nfkc, search_key, single_line

MAX_NAME = 100
MAX_ORG = 200
MAX_EMAIL = 254
# What people put between several addresses, or around one: told apart from a plain typo on the form.
_SEPARATORS = re.compile(r"[,;<>\s]")
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


def search_text(app: Application, ref_no: str) -> str:
    """What a search for this registrant matches: the folded name, reading, e-mail and reference number."""
    return " ".join(search_key(part) for part in (app.name, app.kana, app.email, ref_no) if part)


def _checked_email(value: str) -> tuple[str, str]:
    """The normalised address and its ASCII form (IDN domain as punycode); EmailNotValidError otherwise.

    Syntax only (RFC 5321/5322), never DNS: a look-up on every registration would let a slow name server
    hold the form. Local parts stay ASCII (no SMTPUTF8), so every address has an ASCII envelope form.
    """
    checked = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    return checked.normalized, checked.ascii_email or checked.normalized


def normal_email(value: str) -> str | None:
    """The one address in `value`, normalised (domain lower-case, IDN in Unicode); None if it is not one."""
    try:
        return _checked_email(nfkc(value))[0]
    except EmailNotValidError:
        return None


def email_error(value: str) -> str:
    """The error code for a value that is not one address: several (or decorated) addresses, or a typo."""
    return "one_address" if _SEPARATORS.search(nfkc(value)) else "format"


def envelope_address(email: str) -> str:
    """The SMTP recipient for a stored address, checked again: ValueError unless it is exactly one address."""
    try:
        return _checked_email(email)[1]
    except EmailNotValidError as exc:
        raise ValueError(f"not one e-mail address: {exc}") from exc


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
    if email and "email" not in errors:
        normal = normal_email(email)
        if normal is None:
            errors["email"] = email_error(email)
        else:
            email = normal
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

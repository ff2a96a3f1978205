"""The public registration form: what it offers, how a submission is read, and its messages.

No Starlette here: the endpoints in `checkin.web.pages` feed it the body and render what it returns.
The form checks the same rules as the JSON API (`checkin.registration.validate`) plus the consent to
the handling of personal information, which only a person filling in the form can give.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field

from checkin.errors import BadRequest, Invalid
from checkin.i18n import catalog, translate
from checkin.registration import Application, validate

TEXT_FIELDS = ("name", "kana", "email", "organisation")
FIELDS = (*TEXT_FIELDS, "mode", "consent")
CONSENT_VALUE = "yes"
# The choices of 参加方法. "waitlist" is a venue application that joins キャンセル待ち when the hall is full.
VENUE, ONLINE, WAITLIST = "venue", "online", "waitlist"


@dataclass(frozen=True)
class Submission:
    """One submitted form: the values as typed, and either an application or errors by field."""

    values: dict[str, str]
    application: Application | None = None
    waitlist: bool | None = None
    errors: dict[str, str] = field(default_factory=dict)


def parse(body: bytes) -> dict[str, str]:
    """The form's fields from an urlencoded body (unknown fields ignored, the first value kept)."""
    try:
        pairs = urllib.parse.parse_qsl(
            body.decode("utf-8", errors="replace"), keep_blank_values=True, max_num_fields=2 * len(FIELDS)
        )
    except ValueError as exc:
        raise BadRequest("too many form fields") from exc
    values: dict[str, str] = {}
    for key, value in pairs:
        if key in FIELDS and key not in values:
            values[key] = value
    return values


def check(values: dict[str, str]) -> Submission:
    """Validate a submission with the registration rules; errors are codes by field."""
    errors: dict[str, str] = {}
    choice = values.get("mode", "")
    data: dict[str, object] = {name: values.get(name, "") for name in TEXT_FIELDS}
    data["mode"] = VENUE if choice == WAITLIST else choice
    application = None
    try:
        application = validate(data)
    except Invalid as exc:
        errors.update(exc.fields)
    if values.get("consent") != CONSENT_VALUE:
        errors["consent"] = "required"
    if errors:
        return Submission(values, errors=errors)
    # A plain venue application must not slip onto the waiting list unasked: it is told the hall is full.
    waitlist = {VENUE: False, WAITLIST: True}.get(choice)
    return Submission(values, application, waitlist)


def choices(seats_left: int, waitlist_enabled: bool) -> list[str]:
    """The attendance modes offered: the venue while seats remain, else its waiting list if there is one."""
    if seats_left > 0:
        return [VENUE, ONLINE]
    return [ONLINE, WAITLIST] if waitlist_enabled else [ONLINE]


def message(field_name: str, code: str, lang: str) -> str:
    """The message shown next to a field for an error code."""
    key = f"pages.error.{field_name}.{code}"
    return translate(key if key in catalog() else "pages.error.invalid", lang)


def messages(errors: dict[str, str], lang: str) -> dict[str, str]:
    """Every error's message by field, in the order of the form."""
    return {name: message(name, errors[name], lang) for name in FIELDS if name in errors}

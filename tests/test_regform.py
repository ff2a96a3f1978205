"""The registration form's rules: parsing the body, choices offered, waiting list only when asked."""

from __future__ import annotations

import pytest

from checkin.errors import BadRequest
from checkin.models import Mode
from checkin.web import regform

VALID = {"name": "山田 太郎", "kana": "やまだ たろう", "email": "taro@example.jp", "mode": "venue", "consent": "yes"}


def test_parse_keeps_known_fields_and_the_first_value() -> None:
    """Unknown fields are dropped, a repeated field keeps its first value, UTF-8 is decoded."""
    body = b"name=%E5%B1%B1%E7%94%B0&name=second&evil=1&mode=online"
    assert regform.parse(body) == {"name": "山田", "mode": "online"}


def test_parse_refuses_a_stuffed_body() -> None:
    """A body with far more fields than the form has is a bad request."""
    with pytest.raises(BadRequest):
        regform.parse(b"&".join(b"x=%d" % n for n in range(100)))


def test_check_gives_an_application_and_the_waitlist_wish() -> None:
    """venue never waitlists unasked, waitlist is a venue application that may wait, online does not care."""
    venue = regform.check(VALID)
    assert venue.application is not None and venue.application.mode is Mode.VENUE
    assert venue.application.kana == "ヤマダ タロウ" and venue.waitlist is False
    waiting = regform.check({**VALID, "mode": "waitlist"})
    assert waiting.application is not None and waiting.application.mode is Mode.VENUE and waiting.waitlist is True
    online = regform.check({**VALID, "mode": "online"})
    assert online.application is not None and online.application.mode is Mode.ONLINE and online.waitlist is None


def test_check_collects_field_errors_and_consent() -> None:
    """Every bad field is reported at once, consent included; no application is made."""
    result = regform.check({"name": " ", "email": "taro@", "mode": "car"})
    assert result.application is None
    assert result.errors == {
        "name": "required",
        "kana": "required",
        "email": "format",
        "mode": "choice",
        "consent": "required",
    }


def test_choices_follow_seats_and_waiting_list() -> None:
    """Venue while seats remain; then online with the waiting list, or online alone."""
    assert regform.choices(3, True) == ["venue", "online"]
    assert regform.choices(0, True) == ["online", "waitlist"]
    assert regform.choices(0, False) == ["online"]


def test_messages_are_in_form_order_with_a_fallback() -> None:
    """Messages come in the order of the form; an unexpected code still gets a polite message."""
    texts = regform.messages({"consent": "required", "name": "type"}, "ja")
    assert list(texts) == ["name", "consent"]
    assert texts["name"] == "入力内容を確認してください。"
    assert regform.message("email", "duplicate_email", "en").startswith("This e-mail address")

"""Registration rules: validation of one application and the seat decision."""

from __future__ import annotations

from dataclasses import replace

import pytest

from checkin.errors import Invalid, VenueFull
from checkin.models import Mode, Status
from checkin.registration import decide_status, parse_mode, search_text, validate

GOOD = {
    "name": "山﨑 花子",
    "kana": "やまさき はなこ",
    "email": "hana@example.jp",
    "organisation": "",
    "mode": "会場参加",
}


def test_validate_accepts_japanese_mode_words_and_hiragana_reading() -> None:
    """The form's labels are modes, and a reading in hiragana is accepted as kana."""
    app = validate(GOOD)
    assert app.mode is Mode.VENUE
    assert app.name == "山﨑 花子"


def test_reading_typed_in_hiragana_is_stored_in_katakana() -> None:
    """The form, the API, walk-ins and imports all validate here: the reading comes out in katakana."""
    assert validate(GOOD).kana == "ヤマサキ ハナコ"
    assert validate({**GOOD, "kana": "ﾔﾏｻｷ ﾊﾅｺ"}).kana == "ヤマサキ ハナコ"


def test_validate_reports_every_bad_field() -> None:
    """Each bad field gets its own code; nothing is guessed."""
    with pytest.raises(Invalid) as caught:
        validate({"name": "", "kana": "Yamada", "email": "no-at-sign", "mode": "bus", "organisation": 3})
    assert caught.value.fields == {
        "name": "required",
        "kana": "not_kana",
        "email": "format",
        "mode": "choice",
        "organisation": "type",
    }


def test_validate_limits_lengths() -> None:
    """Over-long fields are refused rather than cut."""
    with pytest.raises(Invalid) as caught:
        validate(dict(GOOD, name="あ" * 101))
    assert caught.value.fields == {"name": "too_long"}


def test_parse_mode_refuses_non_strings() -> None:
    """Only the known words are modes."""
    assert parse_mode(["venue"]) is None
    assert parse_mode("ｵﾝﾗｲﾝ参加") is Mode.ONLINE


def test_decide_status_seats_waitlist_and_full() -> None:
    """Seats while they last, then the waiting list, or venue_full with no list; online always."""
    assert decide_status(Mode.VENUE, 49, 50, True) is Status.REGISTERED
    assert decide_status(Mode.VENUE, 50, 50, True) is Status.WAITLISTED
    assert decide_status(Mode.ONLINE, 50, 50, False) is Status.REGISTERED
    with pytest.raises(VenueFull):
        decide_status(Mode.VENUE, 50, 50, False)


def test_search_text_folds_every_searchable_part_and_skips_empty_ones() -> None:
    """Name, reading (in katakana), e-mail and reference number, each folded; a missing e-mail leaves no gap."""
    app = validate(GOOD)
    assert search_text(app, "R0000001") == "山﨑花子 ヤマサキハナコ hana@example.jp r0000001"
    assert search_text(replace(app, email=""), "W1") == "山﨑花子 ヤマサキハナコ w1"

"""Folding of Japanese input for e-mail keys and search."""

from __future__ import annotations

from checkin.text import email_key, search_key, single_line, to_katakana


def test_email_key_folds_full_width_and_case() -> None:
    """Full-width ＠ and letters, and upper case, give the same key."""
    assert email_key("ＳＡＫＩ＠Example.JP ") == email_key("saki@example.jp") == "saki@example.jp"


def test_search_key_matches_kana_with_or_without_spaces_and_widths() -> None:
    """Hiragana, katakana, half-width kana, spaces and full-width spaces all fold together."""
    target = search_key("タカハシ サキコ")
    assert search_key("たかはし　さきこ") == target
    assert search_key("ﾀｶﾊｼｻｷｺ") == target
    assert search_key("タカハシサキコ") == target


def test_to_katakana_leaves_kanji_and_latin_alone() -> None:
    """Only hiragana change."""
    assert to_katakana("髙橋さきこ abc") == "髙橋サキコ abc"


def test_single_line_drops_control_characters() -> None:
    """Newlines, tabs and NULs become single spaces."""
    assert single_line(" 山田\n\t太郎\x00 ") == "山田 太郎"

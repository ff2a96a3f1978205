"""Folding of Japanese input for e-mail keys and search."""

from __future__ import annotations

from checkin.text import email_key, furigana, search_key, single_line, to_katakana


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


def test_furigana_is_katakana_however_it_was_typed() -> None:
    """Hiragana, half-width katakana and the iteration marks ゝゞ give the stored katakana reading."""
    assert furigana(" やまだ　たろう ") == "ヤマダ タロウ"
    assert furigana("ﾔﾏﾀﾞ ﾀﾛｳ") == "ヤマダ タロウ"
    assert furigana("みすゞ ゔぁいおりん") == "ミスヾ ヴァイオリン"
    assert furigana("サトウ") == "サトウ"


def test_single_line_keeps_the_joiners_of_emoji_and_flags() -> None:
    """👨‍👩‍👧 (joined by ZWJ) and a subdivision flag (tag characters) stay exactly; bidi overrides go."""
    family = "👨\u200d👩\u200d👧"
    scotland = "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"
    assert single_line(f"山田 {family} {scotland}") == f"山田 {family} {scotland}"
    assert single_line("abc\u202edef") == "abc def"

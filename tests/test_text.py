"""Folding of Japanese input for e-mail keys and search."""

from __future__ import annotations

import unicodedata

from checkin import tickets
from checkin.text import email_key, furigana, search_key, single_line, to_katakana
from tests.node import node_json

# Search keys as the server folds them; the kiosk's kiosk/text.js must fold the same inputs alike.
SEARCH_KEYS = [
    ("やまだ たろう", "ヤマダタロウ"),
    ("ﾔﾏﾀﾞ　ﾀﾛｳ", "ヤマダタロウ"),
    ("ＡＢＣ＠Ｅｘａｍｐｌｅ．ＪＰ", "abc@example.jp"),
    ("髙橋 﨑子", "髙橋﨑子"),
    ("W0000012", "w0000012"),
    (" ゔぁ ヴァ ", "ヴァヴァ"),
    ("みすゞ さゝき", "ミスヾサヽキ"),  # the iteration marks ゝゞ are hiragana too
    ("山田\x00太郎\x7f\x85\u2028", "山田太郎"),  # controls go: SQLite's LIKE stops reading at NUL
    ("a \u0301", "á"),  # a mark that followed a removed space joins the letter: composed at the end
    ("Straße ΣΟΦΟΣ", "strasseσοφοσ"),  # case folded, no final sigma
    ("ᾼ ᾳ Ꭰꭰ", "αιαιᎠᎠ"),
    ("\ufeffa\u200bb", "\ufeffa\u200bb"),  # not white space to Python: kept
    ("", ""),
]
# What scanners send, tidied by tickets.normalise and the kiosk's normaliseCode alike.
SCANNED = [" ck1-abcd-efgh\t", "ＣＫ１－ａｂ", "\x1cCK1\x85", "\ufeffCK1 ", "\u3000ck1\u2028", "straße"]


def test_email_key_folds_full_width_and_case() -> None:
    """Full-width ＠ and letters, and upper case, give the same key."""
    assert email_key("ＳＡＫＩ＠Example.JP ") == email_key("saki@example.jp") == "saki@example.jp"


def test_search_key_matches_kana_with_or_without_spaces_and_widths() -> None:
    """Hiragana, katakana, half-width kana, spaces and full-width spaces all fold together."""
    target = search_key("タカハシ サキコ")
    assert search_key("たかはし　さきこ") == target
    assert search_key("ﾀｶﾊｼｻｷｺ") == target
    assert search_key("タカハシサキコ") == target


def test_search_key_folds_the_table() -> None:
    """Each input of the shared table folds to its key."""
    assert [search_key(text) for text, _ in SEARCH_KEYS] == [key for _, key in SEARCH_KEYS]


def test_the_kiosks_folding_agrees_with_the_servers() -> None:
    """kiosk/text.js folds the table, and every character both Unicode versions know, as search_key does;
    it tidies scanned text as tickets.normalise does."""
    characters = [
        chr(point)
        for point in range(0x110000)
        if not 0xD800 <= point <= 0xDFFF and unicodedata.category(chr(point)) != "Cn"
    ]
    script = """
import { normaliseCode, searchKey } from "./kiosk/text.js";
const known = (text) => !/\\p{Cn}/u.test(text);
const table = DATA.table.map((text) => searchKey(text));
const apart = DATA.characters.filter((ch, i) => known(ch) && searchKey(ch) !== DATA.keys[i]);
console.log(JSON.stringify({ table, apart, scanned: DATA.scanned.map(normaliseCode) }));
"""
    data = {"table": [text for text, _ in SEARCH_KEYS], "characters": characters, "scanned": SCANNED}
    data["keys"] = [search_key(ch) for ch in characters]
    result = node_json(script, data)
    assert result["table"] == [key for _, key in SEARCH_KEYS]
    assert result["apart"] == []
    assert result["scanned"] == [tickets.normalise(text) for text in SCANNED]


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

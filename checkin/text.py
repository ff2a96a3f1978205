"""Text folding for Japanese input: e-mail keys, readings and search keys."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"[\s\u3000]+")
_HIRAGANA = re.compile("[\u3041-\u3096\u309d\u309e]")  # ぁ…ゖ and the iteration marks ゝゞ
# Invisible characters that are part of how a name is written: emoji sequences (👨‍👩‍👧 is three
# emoji and two zero-width joiners), Persian/Indic non-joiners and the tags of subdivision flags.
_KEPT_FORMAT = frozenset({"\u200c", "\u200d"}) | frozenset(chr(tag) for tag in range(0xE0020, 0xE0080))
_BREAKING = frozenset({"Cc", "Cs", "Zl", "Zp"})
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


def nfkc(text: str) -> str:
    """NFKC (full-width letters and digits to ASCII, half-width kana to full-width), trimmed."""
    return unicodedata.normalize("NFKC", text).strip()


def email_key(email: str) -> str:
    """The form under which two e-mail addresses are the same person: NFKC, case-folded."""
    return nfkc(email).casefold()


def to_katakana(text: str) -> str:
    """Hiragana to katakana; everything else unchanged."""
    return _HIRAGANA.sub(lambda match: chr(ord(match[0]) + 0x60), text)


def furigana(text: str) -> str:
    """A reading as it is stored: NFKC (half-width kana to full-width) and in katakana, however it was typed."""
    return to_katakana(nfkc(text))


def search_key(text: str) -> str:
    """Fold a name, reading, e-mail or number for matching: NFKC, katakana, no spaces or controls, case-folded."""
    # SQLite's LIKE stops reading a pattern at NUL: "%\x00%" would match every row. Composed again at the end:
    # a mark that followed a removed space or control joins the letter before it.
    return unicodedata.normalize("NFC", _CONTROLS.sub("", _SPACES.sub("", furigana(text))).casefold())


def _breaks_line(ch: str) -> bool:
    category = unicodedata.category(ch)
    return category in _BREAKING or (category == "Cf" and ch not in _KEPT_FORMAT)


def single_line(text: str) -> str:
    """Collapse whitespace, control and formatting characters to single spaces (joiners in emoji stay)."""
    cleaned = "".join(" " if _breaks_line(ch) else ch for ch in text)
    return _SPACES.sub(" ", cleaned).strip()

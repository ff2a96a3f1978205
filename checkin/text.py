"""Text folding for Japanese input: e-mail keys and search keys."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"[\s\u3000]+")
_HIRAGANA_START, _HIRAGANA_END = 0x3041, 0x3096


def nfkc(text: str) -> str:
    """NFKC (full-width letters and digits to ASCII, half-width kana to full-width), trimmed."""
    return unicodedata.normalize("NFKC", text).strip()


def email_key(email: str) -> str:
    """The form under which two e-mail addresses are the same person: NFKC, case-folded."""
    return nfkc(email).casefold()


def to_katakana(text: str) -> str:
    """Hiragana to katakana; everything else unchanged."""
    return "".join(chr(ord(ch) + 0x60) if _HIRAGANA_START <= ord(ch) <= _HIRAGANA_END else ch for ch in text)


def search_key(text: str) -> str:
    """Fold a name, reading, e-mail or number for matching: NFKC, katakana, no spaces, case-folded."""
    # Composed again at the end: a mark that followed a removed space joins the letter before it.
    return unicodedata.normalize("NFC", _SPACES.sub("", to_katakana(nfkc(text))).casefold())


def single_line(text: str) -> str:
    """Collapse whitespace (and control characters) to single spaces."""
    cleaned = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    return _SPACES.sub(" ", cleaned).strip()

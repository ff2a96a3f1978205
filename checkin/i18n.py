"""Words on screen in Japanese (first) and English, from the catalogs in `checkin/locales/*.json`.

Each catalog maps a key to {"ja": ..., "en": ...}; one catalog per area (common, pages, admin, ...),
merged at load. Keep one word per concept (the glossary).
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

LANGS = ("ja", "en")
DEFAULT = "ja"
LOCALES = Path(__file__).parent / "locales"
_SLOT = re.compile(r"\{(\w+)\}")


@functools.cache
def catalog() -> dict[str, dict[str, str]]:
    """Every message of every catalog."""
    merged: dict[str, dict[str, str]] = {}
    for path in sorted(LOCALES.glob("*.json")):
        for key, texts in json.loads(path.read_text(encoding="utf-8")).items():
            if key in merged:
                raise ValueError(f"message {key!r} defined twice ({path.name})")
            merged[key] = texts
    return merged


def translate(key: str, lang: str, **values: object) -> str:
    """The message for `key` in `lang` (falling back to Japanese, then the key itself), each {name} slot
    filled from `values` (empty without one): the rule of the front end's catalogues too (static/common/i18n.js)."""
    texts = catalog().get(key, {})
    text = texts.get(lang) or texts.get(DEFAULT) or key
    return _SLOT.sub(lambda slot: _text(values.get(slot[1])), text)


def _text(value: object) -> str:
    return "" if value is None else str(value)

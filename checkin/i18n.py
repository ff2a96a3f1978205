"""Words on screen in Japanese (first) and English, from the catalogs in `checkin/locales/*.json`.

Each catalog maps a key to {"ja": ..., "en": ...}; one catalog per area (common, pages, admin, ...),
merged at load. Keep one word per concept (the glossary).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

LANGS = ("ja", "en")
DEFAULT = "ja"
LOCALES = Path(__file__).parent / "locales"


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
    """The message for `key` in `lang` (falling back to Japanese, then the key itself)."""
    texts = catalog().get(key)
    if texts is None:
        return key
    text = texts.get(lang) or texts.get(DEFAULT) or key
    return text.format(**values) if values else text

"""The three catalogues of words (Python's, the kiosk's, the dashboard pages') follow one lookup rule,
and every key the front end uses is in its catalogue in both languages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from checkin.i18n import LANGS, catalog, translate
from checkin.web.templating import env
from tests.node import ROOT, catalogue, node_json

# (key, lang, values): found, a language without the message, an unknown key, slots filled or left empty.
CASES: list[tuple[str, str, dict[str, object]]] = [
    ("status.registered", "en", {}),
    ("status.registered", "fr", {}),
    ("no.such.key", "en", {}),
    ("no.such {name}", "ja", {"name": "鍵"}),
    ("admin.sent", "ja", {"count": 3, "failed": None}),
    ("admin.sent", "en", {"count": 0}),
]
SAMPLE = {
    "status.registered": {"ja": "申込済み", "en": "registered"},
    "admin.sent": {"ja": "{count} 件送信（失敗 {failed} 件）", "en": "Sent {count}, failed {failed}"},
}
KIOSK = "kiosk/messages.js"
DASHBOARD = "static/dashboard/messages.js"
_CALL = re.compile(r"(?<![\w.])(?:t|translate)\(")


def test_python_and_javascript_translate_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    """Same catalogue, same calls: the same words (Japanese fallback, the key itself, {name} slots)."""
    monkeypatch.setattr("checkin.i18n.catalog", lambda: SAMPLE)
    expected = [translate(key, lang, **values) for key, lang, values in CASES]
    script = """
import { translator } from "./static/common/i18n.js";
const translate = translator(DATA.catalogue);
console.log(JSON.stringify(DATA.cases.map(([key, lang, values]) => translate(key, lang, values))));
"""
    assert node_json(script, {"catalogue": SAMPLE, "cases": CASES}) == expected
    assert expected == [
        "registered",
        "申込済み",
        "no.such.key",
        "no.such 鍵",
        "3 件送信（失敗  件）",
        "Sent 0, failed ",
    ]


def _first_argument(source: str, start: int) -> str:
    """The text of a call's first argument, from just after its '('."""
    depth, index = 0, start
    while index < len(source):
        char = source[index]
        if char in "\"'`":
            index = source.index(char, index + 1)
        elif char in "([{":
            depth += 1
        elif char in ")]}" and depth:
            depth -= 1
        elif char in ",)" and not depth:
            break
        index += 1
    return source[start:index]


def _literals(code: str) -> list[str]:
    """The string and template literals of a piece of code but those compared in a condition (`x === "in" ?`);
    none of ours holds an escaped quote."""
    found, index = [], 0
    while index < len(code):
        if code[index] in "\"'`":
            end = code.index(code[index], index + 1)
            if not code[end + 1 :].lstrip().startswith("?"):
                found.append(code[index + 1 : end])
            index = end
        index += 1
    return found


def used_keys(paths: list[Path]) -> tuple[set[str], set[str]]:
    """Keys named in t()/translate() calls (each branch of a ?:), and the prefixes of `prefix.${…}` keys."""
    keys: set[str] = set()
    prefixes: set[str] = set()
    for path in paths:
        source = path.read_text(encoding="utf-8")
        for call in _CALL.finditer(source):
            for literal in _literals(_first_argument(source, call.end())):
                if "${" in literal:
                    prefixes.add(literal.split("${")[0])
                else:
                    keys.add(literal)
    return keys, prefixes


def _attributes(pages: list[str], names: str) -> set[str]:
    pattern = re.compile(rf'\s(?:{names})="([^"]+)"')
    return {key for page in pages for key in pattern.findall(page)}


def _complete(messages: dict[str, dict[str, str]]) -> None:
    incomplete = sorted(key for key, texts in messages.items() if not all(texts.get(lang) for lang in LANGS))
    assert incomplete == []


def test_every_key_the_kiosk_uses_is_in_its_catalogue_in_both_languages() -> None:
    """Calls, the page's data-t* attributes and the result screen's next-step table name only known keys."""
    messages = catalogue(KIOSK)
    _complete(messages)
    scripts = [path for path in (ROOT / "kiosk").glob("*.js") if path.name != "messages.js"]
    keys, prefixes = used_keys(scripts)
    page = (ROOT / "kiosk" / "index.html").read_text(encoding="utf-8")
    keys |= _attributes([page], "data-t|data-t-placeholder|data-t-label")
    next_steps = (ROOT / "kiosk" / "screen.js").read_text(encoding="utf-8")
    keys |= set(re.findall(r'^\s+\w+: "(next\.\w+)",$', next_steps, re.MULTILINE))
    assert len(keys) > 50
    assert sorted(keys - messages.keys()) == []
    assert sorted(prefix for prefix in prefixes if not any(key.startswith(prefix) for key in messages)) == []


def test_every_key_the_dashboard_pages_use_is_in_their_catalogue_in_both_languages() -> None:
    """Calls, data-i18n in the templates, and every snake_case word in the modules (figure labels, rows)."""
    messages = catalogue(DASHBOARD)
    _complete(messages)
    scripts = [path for path in (ROOT / "static" / "dashboard").glob("*.js") if path.name != "messages.js"]
    keys, prefixes = used_keys(scripts)
    pages = [env.get_template(f"dashboard/{name}").render(meta={}) for name in ("index.html", "report.html")]
    keys |= _attributes(pages, "data-i18n")
    for path in scripts:
        keys |= set(re.findall(r'"([a-z]+(?:_[a-z0-9]+)+)"', path.read_text(encoding="utf-8")))
    assert len(keys) > 50
    assert sorted(keys - messages.keys()) == []
    assert sorted(prefix for prefix in prefixes if not any(key.startswith(prefix) for key in messages)) == []


def test_python_catalogue_is_complete_in_both_languages() -> None:
    """Every message of checkin/locales has Japanese and English words."""
    _complete(catalog())

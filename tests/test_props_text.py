"""Properties of text folding: e-mail keys and search keys treat the ways Japanese users type a thing as one."""

from __future__ import annotations

import unicodedata

from hypothesis import example, given, settings
from hypothesis import strategies as st

import tests.hypothesis_profile  # noqa: F401  (registers the profiles)
from checkin.registration import validate
from checkin.text import email_key, nfkc, search_key, single_line, to_katakana

ASCII_PRINTABLE = "".join(chr(n) for n in range(0x21, 0x7F))
HIRAGANA_LETTERS = "".join(chr(n) for n in range(0x3041, 0x3097)) + "ゝゞ"  # with the iteration marks (みすゞ)
KANJI = "山田太郎花子佐藤鈴木高橋渡辺伊藤中村小林加藤吉田総務省𠮷"
any_text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=30)


def katakana_by_name(ch: str) -> str:
    """The katakana of a hiragana letter found through the Unicode names (independent of code point arithmetic)."""
    return unicodedata.lookup(unicodedata.name(ch).replace("HIRAGANA", "KATAKANA"))


def _half_width_table() -> dict[str, str]:
    """Full-width katakana (and their voiced forms) → half-width, from the compatibility decompositions."""
    table: dict[str, str] = {}
    for point in range(0xFF61, 0xFFA0):
        half = chr(point)
        table.setdefault(unicodedata.normalize("NFKC", half), half)
    for base, half in list(table.items()):
        for mark, half_mark in (("\u3099", "\uff9e"), ("\u309a", "\uff9f")):
            composed = unicodedata.normalize("NFC", base + mark)
            if len(composed) == 1:
                table[composed] = half + half_mark
    return table


HALF_WIDTH = _half_width_table()
FULL_WIDTH_KANA = "".join(ch for ch in HALF_WIDTH if "\u30a0" <= ch <= "\u30ff")
readings = st.text(alphabet=FULL_WIDTH_KANA, min_size=1, max_size=20)
emails = st.builds(
    lambda user, host, tld: f"{user}@{host}.{tld}",
    st.text(alphabet=ASCII_PRINTABLE.replace("@", ""), min_size=1, max_size=20),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", min_size=1, max_size=15),
    st.sampled_from(["jp", "co.jp", "com", "ac.jp", "JP"]),
)


def full_width(text: str) -> str:
    """ASCII letters, digits and signs in their full-width forms (as a Japanese IME types them)."""
    return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in text)


@settings(max_examples=300)
@given(text=any_text)
@example(text="K\u00b8")  # a spacing cedilla: NFKC makes it a space and a combining mark
@example(text="\uff76 \uff9e")  # ｶ ﾞ: a half-width voiced mark after a space
def test_folding_is_idempotent_and_blind_to_normalisation_form(text: str) -> None:
    """Folding a folded key changes nothing; NFC, NFD, NFKC and NFKD spellings of one text fold alike."""
    assert email_key(email_key(text)) == email_key(text)
    assert search_key(search_key(text)) == search_key(text)
    assert nfkc(nfkc(text)) == nfkc(text)
    assert email_key(text.casefold()) == email_key(text) == email_key(text).casefold()  # STRASSE@ is straße@
    for form in ("NFC", "NFD", "NFKC", "NFKD"):
        spelled = unicodedata.normalize(form, text)
        assert email_key(spelled) == email_key(text)
        assert search_key(spelled) == search_key(text)


@settings(max_examples=150)
@given(email=emails, flips=st.lists(st.booleans(), min_size=60, max_size=60))
def test_an_address_typed_in_full_width_or_another_case_is_the_same_person(email: str, flips: list[bool]) -> None:
    """Full-width letters, upper or lower case and surrounding spaces do not make a second person."""
    retyped = "".join(ch.swapcase() if flip else ch for ch, flip in zip(email, flips, strict=False))
    key = email_key(email)
    assert key == email.lower()
    for variant in (retyped, full_width(email), full_width(retyped), f" \u3000{email}\t"):
        assert email_key(variant) == key


@settings(max_examples=150)
@given(hiragana=st.text(alphabet=HIRAGANA_LETTERS, min_size=1, max_size=20))
def test_hiragana_and_katakana_search_alike(hiragana: str) -> None:
    """A reading typed in hiragana finds the same as in katakana; the katakana is the one Unicode names."""
    katakana = "".join(katakana_by_name(ch) for ch in hiragana)
    assert to_katakana(hiragana) == katakana
    assert to_katakana(katakana) == katakana
    assert search_key(hiragana) == search_key(katakana) == unicodedata.normalize("NFKC", katakana)


@settings(max_examples=150)
@given(reading=readings, spaces=st.lists(st.sampled_from([" ", "\u3000", "\t", "  "]), max_size=3))
def test_half_width_katakana_and_spaces_search_like_full_width(reading: str, spaces: list[str]) -> None:
    """ｶﾀｶﾅ (voiced ones too: ｶﾞ) is カタカナ; spaces (full-width too) do not matter."""
    half = "".join(HALF_WIDTH[ch] for ch in reading)
    spaced = "".join(space + ch for space, ch in zip(spaces, reading, strict=False)) + reading[len(spaces) :]
    assert search_key(half) == search_key(reading) == search_key(spaced) == reading
    assert validate({"name": "山田", "kana": half, "email": "a@b.jp", "mode": "venue"}).kana == reading


@settings(max_examples=150)
@given(
    name=st.text(alphabet=KANJI + HIRAGANA_LETTERS + FULL_WIDTH_KANA, min_size=1, max_size=8),
    latin=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", max_size=8),
)
def test_full_width_and_case_do_not_matter_to_search(name: str, latin: str) -> None:
    """Ｙａｍａｄａ１ is yamada1, upper or lower case; kanji stay as they are."""
    text = name + latin
    assert search_key(full_width(text)) == search_key(text.upper()) == search_key(text)
    assert search_key(text) == to_katakana(name) + latin


KEPT_INVISIBLE = {"\u200c", "\u200d"} | {chr(tag) for tag in range(0xE0020, 0xE0080)}  # joiners, flag tags


def breaks(ch: str) -> bool:
    """Control, surrogate, line or paragraph separator, or an invisible format character that is not a joiner."""
    category = unicodedata.category(ch)
    return category in ("Cc", "Cs", "Zl", "Zp") or (category == "Cf" and ch not in KEPT_INVISIBLE)


@settings(max_examples=300)
@given(
    text=any_text
    | st.lists(st.sampled_from(["👨", "\u200d", "👩", "\u200c", "\U000e0067", "a", "\n", "\u2028"])).map("".join)
)
def test_single_line_leaves_one_clean_line(text: str) -> None:
    """No controls or separators, no runs of spaces, nothing at the ends, emoji joiners kept; a second pass changes
    nothing."""
    line = single_line(text)
    assert not any(breaks(ch) for ch in line)
    assert "  " not in line and "\n" not in line and line == line.strip()
    assert single_line(line) == line
    assert line.replace(" ", "") == "".join(ch for ch in text if not breaks(ch) and not ch.isspace() and ch != "\u3000")

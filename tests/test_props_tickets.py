"""Properties of ticket codes: every code parses back, and what is not a code of ours is told apart."""

from __future__ import annotations

import base64
import hashlib

from hypothesis import assume, given, settings
from hypothesis import strategies as st

import tests.hypothesis_profile  # noqa: F401  (registers the profiles)
from checkin import tickets
from checkin.tickets import CodeProblem

BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
QR_ALPHANUMERIC = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
slugs = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=40)


def expected_check(code: str) -> str:
    """The two check letters, computed here on their own: base32 of SHA-256 of everything before them."""
    digest = hashlib.sha256(code[:-2].encode("ascii")).digest()
    return base64.b32encode(digest).decode("ascii")[:2]


def recheck(code: str) -> str:
    """A code with its check letters made right again (a well-formed code, whatever its body)."""
    return code[:-2] + expected_check(code)


@settings(max_examples=150)
@given(slug=slugs)
def test_every_code_parses_back_with_its_check_letters_and_fits_the_qr_alphanumeric_set(slug: str) -> None:
    """A fresh code is ours, as typed, in lower case or in full-width; its check letters are right."""
    code = tickets.new_code(slug)
    assert len(code) == tickets.CODE_LENGTH
    assert set(code) <= QR_ALPHANUMERIC
    assert code.startswith(f"CK1-{tickets.event_tag(slug)}-")
    assert code[-2:] == expected_check(code)
    assert set(code[9:]) <= set(BASE32)
    full_width = "".join(chr(ord(ch) + 0xFEE0) for ch in code)
    for form in (code, code.lower(), f"  {code}\n", full_width):
        assert tickets.classify(form, slug) is CodeProblem.OK
    assert tickets.code_hash(code) == tickets.code_hash(code.lower())


@settings(max_examples=60)
@given(slug=slugs, other=slugs)
def test_a_code_of_another_event_is_wrong_event(slug: str, other: str) -> None:
    """A well-formed code whose tag names another event is wrong_event, never ok nor invalid."""
    assume(tickets.event_tag(slug) != tickets.event_tag(other))
    assert tickets.classify(tickets.new_code(other), slug) is CodeProblem.WRONG_EVENT


@settings(max_examples=60)
@given(slug=slugs, data=st.data())
def test_a_truncated_or_lengthened_code_is_invalid(slug: str, data: st.DataObject) -> None:
    """Any code cut short, or with letters added anywhere, is invalid."""
    code = tickets.new_code(slug)
    cut = data.draw(st.integers(0, len(code) - 1), label="kept")
    assert tickets.classify(code[:cut], slug) is CodeProblem.INVALID
    assert tickets.classify(code[len(code) - cut :], slug) is CodeProblem.INVALID
    where = data.draw(st.integers(0, len(code)), label="insert at")
    extra = data.draw(st.sampled_from(BASE32 + "-"), label="inserted")
    assert tickets.classify(code[:where] + extra + code[where:], slug) is CodeProblem.INVALID


def model_classify(raw: str, slug: str) -> CodeProblem:
    """The rule of a well-formed code, written out on its own."""
    code = tickets.normalise(raw)
    well_formed = (
        len(code) == tickets.CODE_LENGTH
        and code[:4] == "CK1-"
        and code[8] == "-"
        and set(code[4:8] + code[9:]) <= set(BASE32)
        and code[-2:] == expected_check(code)
    )
    if not well_formed:
        return CodeProblem.INVALID
    return CodeProblem.OK if code[4:8] == tickets.event_tag(slug) else CodeProblem.WRONG_EVENT


@settings(max_examples=40)
@given(slug=slugs)
def test_every_single_character_change_and_transposition_is_refused(slug: str) -> None:
    """Every one-letter substitution and every swap of two neighbours is refused, unless its check matches.

    The check is two letters of a hash (10 bits): about one mistyped code in a thousand keeps a matching
    check, and such a code is a well-formed code of ours (ok or wrong_event by its tag) that the door
    then does not find. Every other change must be invalid, and one with a matching check must not be.
    """
    code = tickets.new_code(slug)
    variants = {code[:i] + ch + code[i + 1 :] for i in range(len(code)) for ch in BASE32 + "-01" if ch != code[i]}
    swaps = (i for i in range(len(code) - 1) if code[i] != code[i + 1])
    variants |= {code[:i] + code[i + 1] + code[i] + code[i + 2 :] for i in swaps}
    for variant in variants:
        assert tickets.classify(variant, slug) is model_classify(variant, slug), variant
    # A body change whose check letters are made right again is a well-formed code: the check is what refuses.
    rebodied = recheck(code[:12] + ("A" if code[12] != "A" else "B") + code[13:])
    assert tickets.classify(rebodied, slug) is CodeProblem.OK


@st.composite
def near_codes(draw: st.DrawFn) -> str:
    """Text shaped like a code (right format and letters), with a check that is right or not."""
    tag = draw(st.sampled_from(["AAAA", tickets.event_tag("sympo")]) | st.text(BASE32, min_size=4, max_size=4))
    code = f"CK1-{tag}-" + draw(st.text(BASE32, min_size=26, max_size=26) | st.text(BASE32, min_size=2, max_size=40))
    return recheck(code) if draw(st.booleans()) else code


@settings(max_examples=200)
@given(slug=slugs, raw=st.one_of(st.text(max_size=60), near_codes(), near_codes().map(str.lower)))
def test_any_text_is_classified_by_the_rule(slug: str, raw: str) -> None:
    """Random text (what a camera may read off anything) and near-codes are classified by the written-out rule."""
    assert tickets.classify(raw, slug) is model_classify(raw, slug)

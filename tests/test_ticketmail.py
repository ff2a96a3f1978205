"""The ticket message as mail programs read it: headers within RFC 2047, names exact, bodies readable."""

from __future__ import annotations

import re
import time
from dataclasses import replace
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.parser import BytesParser

import pytest

from checkin.models import Mode, Registrant, Status, Ticket
from checkin.registration import validate
from checkin.ticketmail import compose
from tests.utils import EVENT

LONG_NAME = "寿限無寿限無五劫の擦り切れ海砂利水魚の水行末雲来末風来末食う寝る処に住む処やぶら小路の藪柑子パイポパイポ"
ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bqBQ]\?[^?\s]*\?=")


def registrant(name: str, mode: Mode = Mode.VENUE) -> Registrant:
    return Registrant(7, 1, "R0000007", name, "ヤマダ", "yamada@example.jp", "", mode, Status.REGISTERED, 0.0)


def sent(name: str, *, kind: str = "ticket", mode: Mode = Mode.VENUE, title: str = EVENT.title) -> bytes:
    """The bytes that leave for one registrant with this name."""
    message = compose(
        replace(EVENT, title=title), registrant(name, mode), Ticket(1, 7, "CK1-TESTCODE", 0.0),
        kind=kind, base_url="https://checkin.example.jp", sender="受付事務局 <noreply@example.jp>", now=time.time(),
        recipient="yamada@example.jp",
    )  # fmt: skip
    return message.as_bytes()


def parsed(data: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(data)
    assert isinstance(message, EmailMessage)
    return message


def raw_header(data: bytes, name: str) -> str:
    """A header as it stands in the message, continuation lines included."""
    value = BytesParser(policy=policy.compat32).parsebytes(data)[name]
    assert isinstance(value, str)
    return value


def display_name(data: bytes) -> str:
    """The To name as RFC 2047 readers decode it (adjacent encoded words joined without the space between).

    Python 3.11's `policy.default` keeps that space inside a display name, which mail programs do not.
    """
    return str(make_header(decode_header(raw_header(data, "To").rpartition("<")[0].strip())))


def test_long_japanese_name_and_title_are_folded_into_short_encoded_words() -> None:
    """Every header line fits in 78 characters and every encoded word in 75; the name and subject survive."""
    title = "「働く、を変える」テレワークイベント　2023年度 第3回 地方自治体と企業のための実践セミナー"
    data = sent(LONG_NAME, title=title)
    head = data.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in data else data.split(b"\n\n", 1)[0]
    for line in head.decode("ascii").splitlines():
        assert len(line) <= 78, line
    for name in ("To", "Subject", "From"):
        assert all(len(word) <= 75 for word in ENCODED_WORD.findall(raw_header(data, name)))
    message = parsed(data)
    assert not any(message[name].defects for name in ("To", "Subject", "From"))
    assert message["To"].addresses[0].addr_spec == "yamada@example.jp"
    assert display_name(data) == LONG_NAME
    assert str(message["Subject"]) == f"【参加証 / Ticket】{title}"
    assert message["From"].addresses[0].display_name == "受付事務局"


@pytest.mark.parametrize("name", ["=?utf-8?b?5bGx55Sw?=", "山田 =?ISO-2022-JP?B?GyRCOzNFRBsoQg==?=", "a=?x?q?y?=b"])
def test_a_name_that_looks_like_an_encoded_word_is_shown_as_typed(name: str) -> None:
    """Mail programs decode encoded words: a name spelled like one is itself encoded, so it reads as typed."""
    data = sent(name)
    assert parsed(data)["To"].addresses[0].display_name == name
    assert display_name(data) == name


def test_plain_names_stay_readable_in_the_header() -> None:
    """An ASCII name goes as it is (quoted where needed), not encoded."""
    data = sent('Saki "Sky" Takahashi')
    assert raw_header(data, "To") == '"Saki \\"Sky\\" Takahashi" <yamada@example.jp>'
    assert parsed(data)["To"].addresses[0].display_name == 'Saki "Sky" Takahashi'


def test_emoji_joined_by_zero_width_joiners_stay_in_the_name() -> None:
    """👨‍👩‍👧 registered as a name reaches the header and both bodies exactly, joiners and all."""
    name = validate(
        {"name": "山田 👨\u200d👩\u200d👧", "kana": "ヤマダ", "email": "y@example.jp", "mode": "venue"}
    ).name
    assert name == "山田 👨\u200d👩\u200d👧"
    data = sent(name)
    message = parsed(data)
    assert display_name(data) == name
    assert f"{name} 様" in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert f"{name} 様" in message.get_body(("html",)).get_content()  # type: ignore[union-attr]


@pytest.mark.parametrize("kind", ["ticket", "promoted", "resend"])
@pytest.mark.parametrize("mode", [Mode.VENUE, Mode.ONLINE])
def test_sentences_are_not_run_together(kind: str, mode: Mode) -> None:
    """In the plain text each sentence ends its line; in the HTML a sentence never runs into the next."""
    message = parsed(sent("山田 太郎", kind=kind, mode=mode))
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    words = re.sub(r"<[^>]+>", "", html)
    run_together = re.compile(r"[.。][A-Z■]")  # Japanese runs sentences on within a paragraph; English does not
    assert not run_together.search(text), run_together.search(text)
    assert not run_together.search(words), run_together.search(words)
    assert "Reference no.: R0000007\n" in text and "\n■ 受付番号: R0000007\n" in text

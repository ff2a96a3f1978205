"""Reading registrant files (encodings, headers, bad rows by line) and writing the Excel-safe report."""

from __future__ import annotations

import csv
import io

import pytest

from checkin.csvio import ExportRow, decode, format_export, lost_in_encoding, neutralise, parse
from checkin.errors import FileProblem
from checkin.models import Mode, Registrant, Status

HEADER = "受付番号,氏名,フリガナ,メールアドレス,所属,参加方法\r\n"
GOOD = "R001,髙橋 﨑子,タカハシ サキコ,saki@example.jp,総務省,会場参加\r\n"


def reasons(data: bytes) -> dict[int, list[tuple[str, str]]]:
    return {bad.line: [(p.field, p.reason) for p in bad.problems] for bad in parse(data).bad}


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        ((HEADER + GOOD).encode("utf-8"), "utf-8"),
        (b"\xef\xbb\xbf" + (HEADER + GOOD).encode("utf-8"), "utf-8-sig"),
        ((HEADER + GOOD).encode("cp932"), "cp932"),
    ],
)
def test_encodings_are_detected_and_names_survive(data: bytes, encoding: str) -> None:
    """UTF-8, UTF-8 with BOM and CP932 read the same; 髙 and 﨑 come through exactly."""
    parsed = parse(data)
    assert parsed.encoding == encoding
    assert [row.app.name for row in parsed.rows] == ["髙橋 﨑子"]
    assert parsed.rows[0].ref_no == "R001" and parsed.rows[0].app.mode is Mode.VENUE


def test_unknown_encoding_is_a_file_problem() -> None:
    """Bytes that are neither UTF-8 nor CP932 are refused with a reason in both languages."""
    with pytest.raises(FileProblem) as caught:
        decode("氏名".encode("utf-16"))
    assert caught.value.code == "csv_invalid"
    with pytest.raises(FileProblem):
        decode(b"\x81\x20")
    assert "UTF-8" in caught.value.text("ja") and "UTF-8" in caught.value.text("en")


def test_english_headers_and_unknown_columns() -> None:
    """English headers work; columns we do not know are listed and ignored."""
    data = b"Name,E-mail,Mode,Memo\nAlice,alice@example.jp,online,hello\n"
    parsed = parse(data)
    assert parsed.rows[0].app.email == "alice@example.jp" and parsed.rows[0].ref_no == ""
    assert parsed.ignored_columns == ("Memo",)


def test_missing_or_repeated_columns_refuse_the_file() -> None:
    """Without 氏名, メールアドレス and 参加方法, or with a column twice, the file is refused whole."""
    with pytest.raises(FileProblem) as caught:
        parse("氏名,所属\n山田,総務省\n".encode())
    assert "メールアドレス" in caught.value.text("ja")
    with pytest.raises(FileProblem):
        parse("氏名,name,email,mode\n".encode())
    with pytest.raises(FileProblem):
        parse(b"\n\n")


def test_bad_rows_are_named_by_line_with_reasons() -> None:
    """Each bad row is reported with the line it starts on (quoted cells may span lines) and why."""
    text = (
        HEADER
        + GOOD
        + ",,ヤマダ,yamada@example.jp,,会場参加\r\n"  # line 3: no name
        + 'R003,"山田\r\n花子",やまだ,hanako@example,,バス\r\n'  # lines 4-5: a name across two lines; bad e-mail, mode
        + "R004,佐藤,Sato,sato@example.jp,,online,extra\r\n"  # line 6: too many cells
        + "R001,鈴木,スズキ,SAKI@example.jp,,online\r\n"  # line 7: repeats line 2
    )
    found = reasons(text.encode("cp932"))
    assert found == {
        3: [("name", "required")],
        4: [("email", "format"), ("mode", "choice")],
        6: [("row", "columns")],
        7: [("ref_no", "repeated"), ("email", "repeated")],
    }
    bad = {row.line: row for row in parse(text.encode("cp932")).bad}
    assert bad[3].text("ja") == "3行目: 氏名が空です"
    assert bad[3].text("en") == "line 3: name is missing"
    assert "2行目" in bad[7].text("ja")


def test_an_e_mail_cell_holds_one_address() -> None:
    """An import row with an address list or a display name is bad, as on the form; a good one is normalised."""
    text = (
        HEADER
        + 'R001,佐藤,サトウ,"sato@example.jp, boss@example.jp",,会場参加\r\n'
        + "R002,鈴木,スズキ,Suzuki <suzuki@example.jp>,,会場参加\r\n"
        + "R003,田中,タナカ,Tanaka@EXAMPLE.JP,,会場参加\r\n"
    )
    assert reasons(text.encode("utf-8")) == {2: [("email", "one_address")], 3: [("email", "one_address")]}
    assert [row.app.email for row in parse(text.encode("utf-8")).rows] == ["Tanaka@example.jp"]
    assert "1件だけ" in parse(text.encode("utf-8")).bad[0].text("ja")


def test_kana_must_be_kana_and_lengths_are_bounded() -> None:
    """A reading in Latin letters, a name over 100 characters and a long reference number are bad."""
    long_name = "髙" * 101
    text = (
        HEADER + f"R1,{long_name},Takahashi,t@example.jp,,会場参加\r\n" + f"{'R' * 41},山田,,y@example.jp,,会場参加\r\n"
    )
    assert reasons(text.encode()) == {2: [("name", "too_long"), ("kana", "not_kana")], 3: [("ref_no", "too_long")]}


def test_reading_in_hiragana_is_imported_in_katakana() -> None:
    """A CP932 file from Excel with readings in hiragana gives katakana readings."""
    text = HEADER + "R1,山田 花子,やまだ はなこ,h@example.jp,,会場参加\r\n"
    assert [row.app.kana for row in parse(text.encode("cp932")).rows] == ["ヤマダ ハナコ"]


def test_blank_rows_and_short_rows() -> None:
    """Empty lines (Excel leaves ",,,,,") are ignored; a short row is read with its missing cells empty."""
    text = HEADER + ",,,,,\r\n" + "R9,山田 花子,ヤマダ ハナコ,h@example.jp,,オンライン参加\r\n\r\n"
    parsed = parse(text.encode())
    assert [row.line for row in parsed.rows] == [3] and parsed.bad == ()


def registrant(name: str, status: Status = Status.REGISTERED) -> Registrant:
    return Registrant(7, 1, "R007", name, "タナカ", "-x@example.jp", "+org", Mode.VENUE, status, 0.0)


def test_export_is_utf8_bom_crlf_with_neutralised_formulas() -> None:
    """The report opens in Excel: BOM, CRLF, Japanese headers, cells starting = + - @ get a leading '."""
    rows = [
        ExportRow(registrant('=HYPERLINK("http://evil")'), "CK1-CODE", 1701059100.0, 1830.0),
        ExportRow(registrant("@SUM(A1)", Status.WAITLISTED)),
    ]
    data = format_export(rows, "https://checkin.example.jp")
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data and data.count(b"\n") == data.count(b"\r\n")
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert table[0][:6] == ["受付番号", "氏名", "フリガナ", "メールアドレス", "所属", "参加方法"]
    first = dict(zip(table[0], table[1], strict=True))
    assert first["氏名"] == '\'=HYPERLINK("http://evil")'
    assert first["メールアドレス"] == "'-x@example.jp" and first["所属"] == "'+org"
    assert first["参加証URL"] == "https://checkin.example.jp/t/CK1-CODE"
    assert first["来場時刻"] == "2023-11-27 13:25:00"
    assert (first["オンライン視聴分"], first["参加"], first["状態"]) == ("30", "1", "申込済み")
    second = dict(zip(table[0], table[2], strict=True))
    assert (second["氏名"], second["参加証URL"], second["参加"]) == ("'@SUM(A1)", "", "0")


def test_english_export_and_round_trip() -> None:
    """English headers carry API values; a neutralised cell reads back as it was."""
    data = format_export([ExportRow(registrant("=1+1"))], "http://x", english_headers=True)
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert table[0][0] == "ref_no" and table[1][5:7] == ["venue", "registered"]
    assert parse(data).rows[0].app.name == "=1+1"


def test_neutralise_tab_and_cr() -> None:
    """Tab and carriage return at the start are neutralised too; ordinary text is untouched."""
    assert neutralise("\tx") == "'\tx" and neutralise("\rx") == "'\rx" and neutralise("山田") == "山田"


@pytest.mark.parametrize(
    ("imported", "stored", "lost"),
    [
        ("?田 太郎", "𠮷田 太郎", True),  # 𠮷 outside CP932: one "?"
        ("??田 太郎", "𠮷田 太郎", True),  # or two, one per UTF-16 half, as Windows may write it
        ("山田 ????????", "山田 👨\u200d👩\u200d👧", True),  # three emoji (two halves each) and two joiners
        ("髙橋 ?", "髙橋 😀", True),
        ("???田 太郎", "𠮷田 太郎", False),  # more "?" than the lost character explains
        ("?田 次郎", "𠮷田 太郎", False),  # edited elsewhere: taken as typed
        ("吉田 太郎", "𠮷田 太郎", False),  # no "?": a real change
        ("本当に?", "本当に?", False),  # a "?" that was there all along
        ("?", "髙", False),  # 髙 is in CP932: a "?" there is typed
    ],
)
def test_characters_lost_to_cp932_are_told_from_edits(imported: str, stored: str, lost: bool) -> None:
    """A "?" counts as lost only where the stored value has a character CP932 cannot hold, and nothing else changed."""
    assert lost_in_encoding(imported, stored) is lost

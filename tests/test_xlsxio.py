"""The attendance report as an Excel workbook: typed cells, text that is never a formula, a usable sheet."""

from __future__ import annotations

import io
from datetime import datetime

from openpyxl import load_workbook

from checkin.csvio import ExportRow, format_export
from checkin.models import Mode, Registrant, Status
from checkin.xlsxio import display_width, format_xlsx
from tests.report_files import csv_table, xlsx_as_csv_table, xlsx_values

CHECKED_IN = 1701059100.0  # 2023-11-27 13:25 JST


def registrant(number: int, name: str, organisation: str = "", status: Status = Status.REGISTERED) -> Registrant:
    return Registrant(
        number, 1, f"R{number:03d}", name, "タナカ", "-x@example.jp", organisation, Mode.VENUE, status, 0.0
    )


ROWS = [
    ExportRow(registrant(1, '=HYPERLINK("http://evil","click")', "+81 総務省"), "CK1-CODE", CHECKED_IN, 1830.0),
    ExportRow(registrant(2, "@SUM(A1)", status=Status.WAITLISTED)),
    ExportRow(registrant(3, "髙橋 👨\u200d👩\u200d👧", "株式会社テレワーク研究所"), "CK1-OTHER", None, 95 * 60.0),
]


def test_workbook_matches_the_csv_row_by_row() -> None:
    """Same headers (Japanese or English) and same values as the CSV report, row by row."""
    for english in (False, True):
        workbook = format_xlsx(ROWS, "https://checkin.example.jp", english_headers=english)
        csv_report = format_export(ROWS, "https://checkin.example.jp", english_headers=english)
        assert xlsx_as_csv_table(workbook) == csv_table(csv_report)


def test_times_are_excel_datetimes_in_tokyo_and_numbers_are_numbers() -> None:
    """来場時刻 is a date-time cell at 13:25 JST (no zone), minutes and 参加 are numbers."""
    header, first, second, third = xlsx_values(format_xlsx(ROWS, "https://x"))
    row = dict(zip(header, first, strict=True))
    assert row["来場時刻"] == datetime(2023, 11, 27, 13, 25)
    assert (row["オンライン視聴分"], row["参加"]) == (30, 1)
    assert dict(zip(header, second, strict=True))["来場時刻"] is None
    assert dict(zip(header, third, strict=True))["オンライン視聴分"] == 95
    sheet = load_workbook(io.BytesIO(format_xlsx(ROWS, "https://x"))).active
    assert sheet is not None
    assert sheet["I2"].is_date and sheet["I2"].number_format == "yyyy-mm-dd hh:mm:ss"
    assert sheet["J2"].data_type == "n" and sheet["K2"].data_type == "n"


def test_formula_looking_text_stays_text() -> None:
    """A name starting with = is a text cell (quote prefix), never a formula; + and @ stay text as typed."""
    sheet = load_workbook(io.BytesIO(format_xlsx(ROWS, "https://x"))).active
    assert sheet is not None
    name = sheet["B2"]
    assert (name.value, name.data_type, name.quotePrefix) == ('=HYPERLINK("http://evil","click")', "s", True)
    assert (sheet["E2"].value, sheet["E2"].data_type) == ("+81 総務省", "s")
    assert (sheet["B3"].value, sheet["D3"].value) == ("@SUM(A1)", "-x@example.jp")
    assert not any(cell.data_type == "f" for row in sheet.iter_rows() for cell in row)


def test_header_row_is_frozen_bold_and_columns_fit() -> None:
    """The header stays in view, is bold and filterable; columns are wide enough for their Japanese text."""
    sheet = load_workbook(io.BytesIO(format_xlsx(ROWS, "https://x"))).active
    assert sheet is not None
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:K4"
    assert all(cell.font.bold for cell in sheet[1])
    organisation = sheet.column_dimensions["E"].width
    assert organisation >= display_width("株式会社テレワーク研究所") == 24
    assert sheet.column_dimensions["I"].width >= len("2023-11-27 13:25:00")
    assert 6 <= sheet.column_dimensions["K"].width <= 12


def test_empty_report_is_a_header_row() -> None:
    """An event with nobody registered gives a workbook with the headers only."""
    assert xlsx_values(format_xlsx([], "https://x"))[0][:2] == ["受付番号", "氏名"]

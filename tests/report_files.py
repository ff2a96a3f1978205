"""Reading the attendance report back as people's programs do: CSV as text, .xlsx with openpyxl."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from openpyxl import load_workbook

from checkin.csvio import neutralise


def csv_table(data: bytes) -> list[list[str]]:
    """The cells of a CSV report (UTF-8 with BOM)."""
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def xlsx_values(data: bytes) -> list[list[object]]:
    """The cell values of the workbook's only sheet, as openpyxl reads them (datetimes, ints, text)."""
    book = load_workbook(io.BytesIO(data))
    assert len(book.worksheets) == 1
    return [list(row) for row in book.worksheets[0].iter_rows(values_only=True)]


def as_csv_cell(value: object) -> str:
    """How the CSV writes the same value: times as text, numbers as digits, formula-like text neutralised."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, int):
        return str(value)
    assert isinstance(value, str)
    return neutralise(value)


def xlsx_as_csv_table(data: bytes) -> list[list[str]]:
    """The workbook's cells written as the CSV writes them, to compare the two reports row by row."""
    return [[as_csv_cell(value) for value in row] for row in xlsx_values(data)]

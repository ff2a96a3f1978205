"""The attendance report as an Excel workbook (.xlsx): what opens correctly everywhere, LibreOffice included.

Pure: the rows of the report in, the bytes of the workbook out. The same columns and headers as
the CSV (`checkin.csvio.export_values`), but typed: the first check-in is an Excel date and time
in JST, minutes and the attended flag are numbers, and every other cell is text, even when it
starts with `=` (stored as a string with Excel's quote prefix, so it is never a formula).
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Sequence
from datetime import datetime

from openpyxl import Workbook
from openpyxl.cell import Cell, WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from checkin.csvio import EXPORT_HEADERS, ExportCell, ExportRow, export_values

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
SHEET_TITLES = {"ja": "出欠", "en": "attendance"}
MIN_WIDTH, MAX_WIDTH = 6, 60


def display_width(value: ExportCell) -> int:
    """Columns a value takes on screen: wide (CJK) characters count two, a date and time nineteen."""
    if value is None:
        return 0
    if isinstance(value, datetime):
        return len(DATETIME_FORMAT)
    text = str(value)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _widths(table: Sequence[Sequence[ExportCell]]) -> list[float]:
    columns = zip(*table, strict=True)
    return [min(max(MIN_WIDTH, max(map(display_width, column)) + 2), MAX_WIDTH) for column in columns]


def _cell(sheet: WriteOnlyWorksheet, value: ExportCell) -> Cell:
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)  # control characters cannot be stored in the XML
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, datetime):
        cell.number_format = DATETIME_FORMAT
    elif isinstance(value, str) and cell.data_type == "f":  # text that starts with "=": keep it text
        cell.data_type = "s"
        cell.quotePrefix = True
    return cell


def format_xlsx(rows: Sequence[ExportRow], base_url: str, *, english_headers: bool = False) -> bytes:
    """The attendance report as a workbook: one sheet, a frozen bold header row, a filter, fitting widths."""
    lang = "en" if english_headers else "ja"
    headers: list[ExportCell] = list(EXPORT_HEADERS[lang])
    table = [headers, *(export_values(row, base_url, lang) for row in rows)]
    book = Workbook(write_only=True)
    sheet = book.create_sheet(SHEET_TITLES[lang])
    sheet.freeze_panes = "A2"
    for index, width in enumerate(_widths(table), start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{len(table)}"
    bold = Font(bold=True)
    header_cells = [WriteOnlyCell(sheet, value=header) for header in headers]
    for cell in header_cells:
        cell.font = bold
    sheet.append(header_cells)
    for values in table[1:]:
        sheet.append([_cell(sheet, value) for value in values])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()

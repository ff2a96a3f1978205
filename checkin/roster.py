"""Import of registrants (CSV) and the attendance report (CSV or .xlsx): what the `checkin import`/`export`
commands and the admin call."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import Executor
from functools import partial
from typing import Protocol

from checkin.csvio import ExportRow, ImportReport, format_export, parse
from checkin.errors import ImportRejected
from checkin.models import Event, to_datetime
from checkin.storage import Engine
from checkin.storage.roster import apply_import, export_rows
from checkin.writes import Writes
from checkin.xlsxio import MEDIA_TYPE as XLSX_MEDIA_TYPE
from checkin.xlsxio import format_xlsx


class Formatter(Protocol):
    def __call__(self, rows: Sequence[ExportRow], base_url: str, *, english_headers: bool = False) -> bytes: ...


# file format → how the report is written, and its media type
REPORT_FORMATS: dict[str, tuple[Formatter, str]] = {
    "csv": (format_export, "text/csv; charset=utf-8"),
    "xlsx": (format_xlsx, XLSX_MEDIA_TYPE),
}


async def import_csv(
    writes: Writes, event: Event, data: bytes, *, now: float, skip_bad_rows: bool = False, actor: str = "import"
) -> ImportReport:
    """Import a registrant file all or nothing (one write transaction).

    A file with bad rows is refused whole (`written` False, `bad` names each row) unless
    `skip_bad_rows`; an unreadable file raises `FileProblem` (422). Re-importing updates by
    reference number or e-mail and never duplicates; venue rows past capacity go on the waiting list.
    """
    parsed = parse(data)
    try:
        return await writes.change(
            event.slug, apply_import, event, parsed, now, skip_bad_rows=skip_bad_rows, actor=actor
        )
    except ImportRejected as rejected:
        return rejected.report


def format_report(
    rows: Sequence[ExportRow], base_url: str, *, file_format: str = "csv", english_headers: bool = False
) -> bytes:
    """The attendance report as CSV (UTF-8 with BOM, CRLF, formula cells neutralised) or as .xlsx."""
    formatter, _ = REPORT_FORMATS[file_format]
    return formatter(rows, base_url, english_headers=english_headers)


async def export_report(
    db: Engine,
    event: Event,
    *,
    base_url: str,
    file_format: str = "csv",
    english_headers: bool = False,
    executor: Executor | None = None,
) -> bytes:
    """The attendance report of an event, in the format asked for (`csv` or `xlsx`).

    Written on `executor` (the default pool when None): a workbook of thousands of rows takes seconds.
    """
    rows = await db.read(export_rows, event.id)
    write = partial(format_report, rows, base_url, file_format=file_format, english_headers=english_headers)
    return await asyncio.get_running_loop().run_in_executor(executor, write)


def report_filename(event: Event, file_format: str, now: float) -> str:
    """e.g. `sympo-attendance-20231127.xlsx`: what the report is, of which event, from which day (JST)."""
    return f"{event.slug}-attendance-{to_datetime(now):%Y%m%d}.{file_format}"

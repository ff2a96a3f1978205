"""Import and export of registrants as CSV: what the `checkin import`/`export` commands and the admin call."""

from __future__ import annotations

from checkin.csvio import ImportReport, format_export, parse
from checkin.models import Event
from checkin.storage import Database
from checkin.storage.roster import ImportRejected, apply_import, export_rows


async def import_csv(
    db: Database, event: Event, data: bytes, *, now: float, skip_bad_rows: bool = False, actor: str = "import"
) -> ImportReport:
    """Import a registrant file all or nothing (one write transaction).

    A file with bad rows is refused whole (`written` False, `bad` names each row) unless
    `skip_bad_rows`; an unreadable file raises `FileProblem` (422). Re-importing updates by
    reference number or e-mail and never duplicates; venue rows past capacity go on the waiting list.
    """
    parsed = parse(data)
    try:
        return await db.write(apply_import, event, parsed, now, skip_bad_rows=skip_bad_rows, actor=actor)
    except ImportRejected as rejected:
        return rejected.report


async def export_csv(db: Database, event: Event, *, base_url: str, english_headers: bool = False) -> bytes:
    """The attendance report of an event (UTF-8 with BOM, CRLF, formula cells neutralised)."""
    rows = await db.read(export_rows, event.id)
    return format_export(rows, base_url, english_headers=english_headers)

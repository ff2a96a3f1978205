"""The counts behind the after-event report (参加報告), read in one transaction: who came, how, and who did not."""

from __future__ import annotations

from dataclasses import dataclass

from checkin.stats import ReportCounts
from checkin.storage.sql import Connection
from checkin.storage.stats import NoShow, no_shows, snapshot_counts
from checkin.storage.viewing import watched_seconds


@dataclass(frozen=True)
class WalkInRow:
    """A walk-in (当日参加): registered and checked in at the door."""

    ref_no: str
    name: str
    organisation: str
    checked_in_at: float | None


@dataclass(frozen=True)
class ReportData:
    """Everything the report shows besides the event itself."""

    counts: ReportCounts
    no_shows: list[NoShow]
    walk_ins: list[WalkInRow]


def report_data(conn: Connection, slug: str, now: float) -> ReportData:
    """The report's counts and lists of one event (run it inside one read, so they agree)."""
    counts = snapshot_counts(conn, slug, now)
    event_id = conn.execute("SELECT id FROM events WHERE slug = ?", (slug,)).fetchone()[0]
    pre_registered, arrived, online_at_venue = conn.execute(
        "SELECT COUNT(CASE WHEN r.mode = 'venue' AND r.source != 'walkin' THEN 1 END),"
        " COUNT(CASE WHEN r.mode = 'venue' AND r.source != 'walkin' AND a.registrant_id IS NOT NULL THEN 1 END),"
        " COUNT(CASE WHEN r.mode = 'online' AND a.registrant_id IS NOT NULL THEN 1 END)"
        " FROM registrants r LEFT JOIN attendance a ON a.registrant_id = r.id"
        " WHERE r.event_id = ? AND r.status = 'registered'",
        (event_id,),
    ).fetchone()
    walk_ins = [
        WalkInRow(row["ref_no"], row["name"], row["organisation"], row["first_checked_in_at"])
        for row in conn.execute(
            "SELECT r.ref_no, r.name, r.organisation, a.first_checked_in_at FROM registrants r"
            " LEFT JOIN attendance a ON a.registrant_id = r.id"
            " WHERE r.event_id = ? AND r.status = 'registered' AND r.source = 'walkin' ORDER BY r.ref_no",
            (event_id,),
        )
    ]
    report = ReportCounts(
        snapshot=counts,
        pre_registered=int(pre_registered),
        pre_registered_arrived=int(arrived),
        online_registrants_at_venue=int(online_at_venue),
        walk_ins=sum(1 for row in walk_ins if row.checked_in_at is not None),
        watched_seconds=watched_seconds(conn, event_id, now),
    )
    return ReportData(report, no_shows(conn, event_id), walk_ins)

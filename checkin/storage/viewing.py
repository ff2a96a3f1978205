"""Online viewing records: the figures computed from viewing_intervals.

Interface shared by the dashboard, the CSV export and the admin; the online-viewer work fills it in.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass


@dataclass(frozen=True)
class OnlineFigures:
    """The online fields of the snapshot, plus the per-minute series."""

    now: int = 0
    peak: int = 0
    peak_at: float | None = None
    unique: int = 0
    unique_registrants: tuple[int, ...] = ()
    unique_anonymous: int = 0
    series: tuple[tuple[float, int], ...] = ()  # (minute start, viewers counted in that minute)


@dataclass(frozen=True)
class WatchSummary:
    """One registrant's online attendance, intervals merged (several tabs count once)."""

    seconds: float
    first_join: float
    last_leave: float


def online_figures(conn: sqlite3.Connection, event_id: int, now: float) -> OnlineFigures:
    """now / peak / peak_at / unique and the per-minute series of an event's online viewers."""
    return OnlineFigures()


def watch_summary(conn: sqlite3.Connection, event_id: int) -> dict[int, WatchSummary]:
    """Per registrant id: seconds watched, first join, last leave."""
    return {}

"""Online viewing figures computed from viewing intervals: pure functions, no I/O.

An interval is one continuous viewing of one viewer (a registrant or an anonymous id), from when it
started counting to its last sign of life (or to `now` while it is still open). Everything here is
recomputed from the stored intervals, so the peak and the series survive a restart.

Intervals of one viewer are merged before anything is counted, so a viewer never counts twice at one
moment even if the record holds overlapping rows (two processes, a crash between writes).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, replace
from typing import TypeVar

Span = tuple[float, float]
K = TypeVar("K", bound=Hashable)
MINUTE = 60.0
# A snapshot carries the series on every change: keep it to a day of minutes, whatever the record holds.
SERIES_MINUTES = 24 * 60


@dataclass(frozen=True)
class OnlineFigures:
    """The online fields of the snapshot, plus the per-minute series."""

    now: int = 0
    peak: int = 0
    peak_at: float | None = None
    unique: int = 0
    unique_registrants: int = 0  # registrants among the unique viewers
    unique_anonymous: int = 0
    series: tuple[tuple[float, int], ...] = ()  # (minute start, most viewers at once in that minute)


@dataclass(frozen=True)
class WatchSummary:
    """One registrant's online attendance, intervals merged (several tabs count once)."""

    seconds: float
    first_join: float
    last_leave: float


@dataclass(frozen=True, slots=True)
class Interval:
    """One stored viewing: `end` is its end, or `now` while it is open."""

    viewer_key: str
    registrant_id: int | None
    start: float
    end: float
    open: bool = False


def merge(spans: Iterable[Span]) -> list[Span]:
    """Overlapping or touching spans joined into disjoint ones, in time order."""
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def merged_by(intervals: Iterable[Interval], owner_of: Callable[[Interval], K | None]) -> dict[K, list[Span]]:
    """Each owner's spans (a viewer's, a registrant's), merged."""
    spans: dict[K, list[Span]] = defaultdict(list)
    for interval in intervals:
        owner = owner_of(interval)
        if owner is not None:
            spans[owner].append((interval.start, max(interval.start, interval.end)))
    return {owner: merge(owner_spans) for owner, owner_spans in spans.items()}


@dataclass(frozen=True)
class Sweep:
    """Concurrency over time: the highest count, when it was first reached, and each minute's highest."""

    peak: int
    peak_at: float | None
    minute_peaks: dict[int, int]


def sweep(spans: Iterable[Span]) -> Sweep:
    """Sweep over start/end points (an end sorts before a start at the same instant: a hand-over is not overlap)."""
    points = sorted(point for start, end in spans if end > start for point in ((start, 1), (end, -1)))
    count, peak, peak_at = 0, 0, None
    minute_peaks: dict[int, int] = {}
    previous = 0.0
    for moment, delta in points:
        if count > 0 and moment > previous:
            _mark_minutes(minute_peaks, previous, moment, count)
        count += delta
        if count > peak:
            peak, peak_at = count, moment
        previous = moment
    return Sweep(peak, peak_at, minute_peaks)


def _mark_minutes(minute_peaks: dict[int, int], start: float, end: float, count: int) -> None:
    """Raise each minute touched by [start, end) to at least `count`."""
    for minute in range(math.floor(start / MINUTE), math.ceil(end / MINUTE)):
        if minute_peaks.get(minute, 0) < count:
            minute_peaks[minute] = count


def series(minute_peaks: dict[int, int], now: float, still_open: bool) -> tuple[tuple[float, int], ...]:
    """Every minute from the first viewing to now (or to one quiet minute after the last), zeros included."""
    if not minute_peaks:
        return ()
    now_minute = math.floor(now / MINUTE)
    last = now_minute if still_open else min(max(minute_peaks) + 1, now_minute)
    first = max(min(minute_peaks), last - SERIES_MINUTES + 1)
    return tuple((minute * MINUTE, minute_peaks.get(minute, 0)) for minute in range(first, last + 1))


def figures(intervals: Iterable[Interval], now: float) -> OnlineFigures:
    """now / peak / peak_at / unique and the per-minute series of one event's intervals."""
    records = list(intervals)
    by_viewer = merged_by(records, _viewer)
    live = {interval.viewer_key for interval in records if interval.open}
    result = sweep(span for spans in by_viewer.values() for span in spans)
    peak, peak_at = result.peak, result.peak_at
    if len(live) > peak:  # an interval opened this very instant has no length yet, but it counts now
        peak, peak_at = len(live), now
    if live:  # and in this minute's highest
        minute = math.floor(now / MINUTE)
        result.minute_peaks[minute] = max(result.minute_peaks.get(minute, 0), len(live))
    registrants = {r.registrant_id for r in records if r.registrant_id is not None}
    anonymous = {r.viewer_key for r in records if r.registrant_id is None}
    return OnlineFigures(
        now=len(live),
        peak=peak,
        peak_at=peak_at,
        unique=len(by_viewer),
        unique_registrants=len(registrants),
        unique_anonymous=len(anonymous),
        series=series(result.minute_peaks, now, bool(live)),
    )


def raised(last: OnlineFigures, now: float, live: int) -> OnlineFigures:
    """Figures computed earlier in the minute of `now`, brought to `now` knowing only how many watch now (`live`):
    the peak and this minute's highest are at least `live`, and the minutes since the last viewing are quiet.

    What it cannot know, a viewer who came and went in between, waits for the next full computation."""
    minute = math.floor(now / MINUTE)
    points = dict(last.series)
    if live > 0 and points:
        for quiet in range(math.floor(max(points) / MINUTE) + 1, minute):
            points.setdefault(quiet * MINUTE, 0)
    if live > 0:
        points[minute * MINUTE] = max(points.get(minute * MINUTE, 0), live)
    peak, peak_at = (live, now) if live > last.peak else (last.peak, last.peak_at)
    series_now = tuple(sorted(points.items()))[-SERIES_MINUTES:]
    return replace(last, now=live, peak=peak, peak_at=peak_at, series=series_now)


def summaries(intervals: Iterable[Interval]) -> dict[int, WatchSummary]:
    """Per registrant: seconds watched (merged, so tabs and devices count once), first join, last leave."""
    result: dict[int, WatchSummary] = {}
    for registrant_id, spans in merged_by(intervals, _registrant).items():
        result[registrant_id] = WatchSummary(
            seconds=sum(end - start for start, end in spans),
            first_join=spans[0][0],
            last_leave=max(end for _start, end in spans),
        )
    return result


def _viewer(interval: Interval) -> str:
    return interval.viewer_key


def _registrant(interval: Interval) -> int | None:
    return interval.registrant_id

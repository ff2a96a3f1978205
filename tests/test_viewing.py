"""Viewing figures from intervals: merging per person, the sweep for the peak, the minute series."""

from __future__ import annotations

import math
from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from checkin.viewing import SERIES_MINUTES, Interval, figures, merge, raised, summaries, sweep

T0 = 1_700_000_000.0 - 1_700_000_000.0 % 60  # a minute boundary


def iv(key: str, start: float, end: float, registrant: int | None = None, *, open: bool = False) -> Interval:
    return Interval(key, registrant, T0 + start, T0 + end, open)


def test_merge_joins_overlapping_and_touching_spans() -> None:
    """Overlapping or touching spans become one; separate ones stay apart, in order."""
    assert merge([(5, 8), (0, 3), (3, 4), (2, 3.5), (10, 12)]) == [(0, 4), (5, 8), (10, 12)]


def test_sweep_finds_peak_and_when_it_was_first_reached() -> None:
    """The peak is the most spans at once, at the instant it was first reached."""
    result = sweep([(0, 10), (2, 6), (3, 4), (7, 9), (8, 9.5)])
    assert (result.peak, result.peak_at) == (3, 3)


def test_hand_over_at_the_same_instant_is_not_overlap() -> None:
    """One viewing ending as another starts at the same instant never counts both."""
    assert sweep([(0, 5), (5, 9)]).peak == 1


def test_tabs_of_one_viewer_count_once_in_the_peak() -> None:
    """Overlapping rows of one viewer (tabs, a second process) are one viewer at a time."""
    result = figures([iv("reg:1", 0, 100, 1), iv("reg:1", 10, 50, 1), iv("anon:x", 20, 30)], T0 + 200)
    assert (result.peak, result.peak_at) == (2, T0 + 20)
    assert result.unique == 2


def test_now_counts_distinct_viewers_with_an_open_interval() -> None:
    """`now` is the number of viewers whose interval is still open."""
    records = [iv("reg:1", 0, 90, 1, open=True), iv("reg:2", 0, 30, 2), iv("anon:a", 10, 90, open=True)]
    result = figures(records, T0 + 90)
    assert result.now == 2
    assert result.peak == 3


def test_interval_opened_this_instant_counts_in_the_peak() -> None:
    """A viewer that started counting at `now` is in `now`, so the peak is at least `now`."""
    result = figures([iv("anon:a", 50, 50, open=True)], T0 + 50)
    assert (result.now, result.peak, result.peak_at) == (1, 1, T0 + 50)


def test_unique_splits_registrants_and_anonymous_viewers() -> None:
    """Unique counts every viewer ever seen; registrants are listed, anonymous ids counted apart."""
    records = [
        iv("reg:7", 0, 5, 7),
        iv("reg:3", 0, 5, 3),
        iv("reg:7", 9, 12, 7),
        iv("anon:a", 1, 2),
        iv("anon:b", 3, 4),
    ]
    result = figures(records, T0 + 100)
    assert result.unique == 4
    assert result.unique_registrants == 2
    assert result.unique_anonymous == 2


def test_series_holds_each_minutes_highest_count_with_zeros() -> None:
    """Each minute carries the most viewers at once in it; a quiet minute is 0; one 0 follows the last."""
    records = [iv("a", 10, 70), iv("b", 30, 65), iv("c", 200, 230)]
    result = figures(records, T0 + 3600)
    assert result.series == ((T0, 2), (T0 + 60, 2), (T0 + 120, 0), (T0 + 180, 1), (T0 + 240, 0))
    assert max(count for _minute, count in result.series) == result.peak


def test_series_runs_to_the_current_minute_while_someone_watches() -> None:
    """With an open interval the series ends at the minute of `now`."""
    result = figures([iv("a", 0, 150, open=True)], T0 + 150)
    assert [count for _minute, count in result.series] == [1, 1, 1]


def test_series_is_capped_to_a_day_of_minutes() -> None:
    """A record spanning days yields only the last day's minutes."""
    result = figures([iv("a", 0, 10), iv("b", 3 * 86400, 3 * 86400 + 10)], T0 + 4 * 86400)
    assert len(result.series) == SERIES_MINUTES
    assert result.series[-1] == (T0 + 3 * 86400 + 60, 0)


def test_no_intervals_give_zero_figures() -> None:
    """An event nobody watched has zeros, no peak time and no series."""
    result = figures([], T0)
    assert (result.now, result.peak, result.peak_at, result.unique, result.series) == (0, 0, None, 0, ())


def test_summaries_merge_tabs_and_keep_first_join_and_last_leave() -> None:
    """Seconds watched count overlapping tabs once; first join and last leave span every viewing."""
    records = [iv("reg:1", 0, 100, 1), iv("reg:1", 50, 150, 1), iv("reg:1", 300, 360, 1), iv("anon:a", 0, 999)]
    result = summaries(records)
    assert set(result) == {1}
    assert result[1].seconds == 210
    assert (result[1].first_join, result[1].last_leave) == (T0, T0 + 360)


@st.composite
def a_minute_later(draw: st.DrawFn) -> tuple[list[Interval], list[Interval], float, float]:
    """Viewings up to `first` (closed ones end by then), and viewers who start between `first` and `then`, in the
    same minute: what happens between two snapshots of a join storm."""
    first = T0 + draw(st.integers(0, 50)) * 60 + draw(st.floats(0, 30))
    then = draw(st.floats(first, math.floor(first / 60) * 60 + 59.9))
    before = []
    for n in range(draw(st.integers(0, 12))):
        start = draw(st.floats(T0, first))
        open_ = draw(st.booleans())
        end = first if open_ else draw(st.floats(start, first))
        before.append(Interval(f"v{draw(st.integers(0, 6))}", n, start, end, open_))
    before = [
        iv
        for iv in before
        if not iv.open or not any(o.open and o.viewer_key == iv.viewer_key for o in before if o is not iv)
    ]
    joins = [
        Interval(f"new{n}", None, draw(st.floats(first, then)), then, True) for n in range(draw(st.integers(0, 8)))
    ]
    return before, joins, first, then


@given(a_minute_later())
def test_raised_figures_are_exact_while_viewers_only_join(
    case: tuple[list[Interval], list[Interval], float, float],
) -> None:
    """Figures of a moment brought to a later one in its minute, knowing only how many watch: exact while viewers
    only join (now, peak, series), the peak's moment no earlier than it was."""
    before, joins, first, then = case
    at_first = [replace(iv, end=first) if iv.open else iv for iv in before]
    at_then = [replace(iv, end=then) if iv.open else iv for iv in before] + joins
    exact = figures(at_then, then)
    result = raised(figures(at_first, first), then, exact.now)
    assert (result.now, result.peak, result.series) == (exact.now, exact.peak, exact.series)
    assert result.peak_at is None or exact.peak_at is None or result.peak_at >= exact.peak_at


def test_raised_fills_the_quiet_minutes_before_a_new_viewer() -> None:
    """Someone comes back after quiet minutes: the minutes between are zeros, this one holds them."""
    last = figures([iv("a", 0, 30)], T0 + 250)
    result = raised(last, T0 + 255, 1)
    assert result.series == ((T0, 1), (T0 + 60, 0), (T0 + 120, 0), (T0 + 180, 0), (T0 + 240, 1))
    assert (result.now, result.peak, result.peak_at) == (1, 1, T0)

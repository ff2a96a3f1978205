"""The rehearsal's own parts without a server: the plan, the truth's figures, and the comparison that must
catch a figure that differs."""

from __future__ import annotations

import pytest

from checkin.rehearsal.compare import compare_figures, compare_people, exit_status
from checkin.rehearsal.faults import parse_faults
from checkin.rehearsal.plan import make_plan
from checkin.rehearsal.summary import latency, render
from checkin.rehearsal.truth import Truth

FIGURES: dict[str, object] = {"checked_in": 120, "in_hall": 118, "online_now": 5, "peak": 40, "peak_at": 1000.0}


def test_matching_sources_pass() -> None:
    rows = compare_figures(FIGURES, {"stats": dict(FIGURES), "csv": {"checked_in": 120}}, grace=12)
    assert all(row.ok for row in rows)
    assert exit_status(rows, [], []) == 0


def test_a_tampered_figure_is_caught() -> None:
    tampered = {**FIGURES, "in_hall": 117}
    rows = compare_figures(FIGURES, {"stats": dict(FIGURES), "dashboard": tampered}, grace=12)
    bad = [row for row in rows if not row.ok]
    assert [(row.figure, row.bad) for row in bad] == [("in_hall", ["dashboard"])]
    assert exit_status(rows, [], []) == 1


def test_peak_time_tolerance_is_grace_plus_a_second() -> None:
    near = compare_figures(FIGURES, {"stats": {**FIGURES, "peak_at": 1012.9}}, grace=12)
    far = compare_figures(FIGURES, {"stats": {**FIGURES, "peak_at": 1013.5}}, grace=12)
    assert all(row.ok for row in near)
    assert [row.figure for row in far if not row.ok] == ["peak_at"]


def test_people_differences() -> None:
    ours = {"A1": {"checked_in_at": 100.0, "seconds": 600.0}, "A2": {"checked_in_at": None, "seconds": 0.0}}
    theirs = {"csv": {"A1": {"checked_in_at": 101.0, "minutes": 11.0}, "A2": {"checked_in_at": None, "minutes": 0}}}
    assert compare_people(ours, theirs) == []
    late = {"csv": {"A1": {"checked_in_at": 105.0, "minutes": 12.0}}}
    found = compare_people(ours, late)
    assert len(found) == 3  # A1 late, A1 two minutes off, A2 missing
    assert exit_status([], found, []) == 1
    assert exit_status([], [], ["kiosk 1: scan answered 500"]) == 1


def test_truth_merges_tabs_pauses_inside_the_grace_and_counts_the_venue_first() -> None:
    truth = Truth(grace=12)
    truth.register(1, "venue", capacity=10)
    truth.register(2, "online", capacity=10)
    truth.register(3, "online", capacity=10)
    truth.check_in(1, 50.0)
    truth.start_watching(1, 10.0)  # watched before coming: counted once, as checked in
    truth.stop_watching(1, 40.0)
    truth.start_watching(2, 20.0)
    truth.stop_watching(2, 30.0)
    truth.start_watching(2, 35.0)  # a pause of 5 s: one viewing
    truth.stop_watching(2, 60.0)
    truth.start_watching(3, 40.0)  # starts as 1 ends: an end sorts first, so no overlap of three
    figures = truth.figures(now=100.0)
    assert figures["peak"] == 2 and figures["peak_at"] == 20.0
    assert figures["unique"] == 3 and figures["attended"] == 3 and figures["online_now"] == 1
    assert truth.viewings(2, 100.0) == [(20.0, 60.0, False)]


def test_truth_waitlist_moves_up_in_order() -> None:
    truth = Truth()
    assert [truth.register(k, "venue", capacity=2) for k in range(4)] == [
        "registered", "registered", "waitlisted", "waitlisted"
    ]  # fmt: skip
    assert truth.cancel(0) == 2
    assert truth.figures(0.0)["registered"] == 2
    assert truth.mails == 3


def test_sources_of_several_servers_are_compared_and_shown() -> None:
    """With several servers each one's `/stats` and a dashboard on each are sources: one that differs fails."""
    observed = {"stats": dict(FIGURES), "stats@2": dict(FIGURES), "stats@3": {**FIGURES, "checked_in": 121},
                "dashboard@2": dict(FIGURES), "dashboard": dict(FIGURES)}  # fmt: skip
    rows = compare_figures(FIGURES, observed, grace=12)
    assert [(row.figure, row.bad) for row in rows if not row.ok] == [("checked_in", ["stats@3"])]
    assert exit_status(rows, [], []) == 1
    result = {"people_differences": [], "problems": [], "counts": {}, "ok": False, "faults": [],
              "latency": {"scan": latency([]), "scan_to_dashboard": latency([])}}  # fmt: skip
    head = render(result, rows, "en").splitlines()[0].split()
    assert head[2:8] == ["dashboard", "dashboard@2", "stats", "stats@2", "stats@3", "result"]


def test_plan_keeps_the_waiting_list_out_of_the_door() -> None:
    plan = make_plan(100, 50, 3, {"kill", "offline"}, seed=7)
    assert plan == make_plan(100, 50, 3, {"kill", "offline"}, seed=7)
    waiting = plan.venue()[plan.capacity :]
    assert waiting and all(p.arrives_at is None for p in waiting)
    assert all(p.arrives_at is None for p in plan.people if p.cancels)
    assert sum(1 for p in plan.people if p.viewing) >= 50
    assert plan.offline is not None and plan.kill_at is not None


def test_faults_option() -> None:
    assert parse_faults("all") == {"kill", "offline", "slow", "junk", "redis"}
    assert parse_faults("kill, offline") == {"kill", "offline"}
    with pytest.raises(ValueError, match="unknown"):
        parse_faults("kill,flood")

"""Properties of the door's rules: the decision for one scan against a written-out model, and sequences of scans
(offline ones arriving in any order) leaving the attendance the model says."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

import tests.hypothesis_profile  # noqa: F401  (registers the profiles)
from checkin.models import Mode, Status
from checkin.scans import Action, Decision, Direction, Presence, Result, Subject, decide, decide_walkin

T0 = 1_700_000_000.0
subjects = st.builds(Subject, st.sampled_from(Mode), st.sampled_from(Status), st.booleans())
times = st.integers(0, 600).map(lambda s: T0 + s)
presences = st.none() | st.builds(
    lambda first, moved, inside: Presence(T0 + first, "受付1", inside, T0 + first + moved),
    st.integers(0, 600),
    st.integers(0, 600),
    st.booleans(),
)
offline = st.sampled_from([None, None, "ok", "already_checked_in", "venue_full", "revoked", "duplicate", "nonsense"])


def model(
    subject: Subject, presence: Presence | None, direction: Direction, at: float, seats: int, shown: str | None
) -> tuple[Result, Action]:
    """The door's rules as the contract words them, one case after another."""
    if direction is Direction.OUT:
        if presence is None or not presence.inside:
            return Result.NOT_CHECKED_IN, Action.NONE
        return Result.EXITED, (Action.NONE if at < presence.last_moved_at else Action.EXIT)
    went_in = shown == "ok"
    cancelled = subject.ticket_revoked or subject.status is Status.CANCELLED
    if cancelled and not went_in:
        result, action = Result.REVOKED, Action.NONE
    elif presence is not None and at < presence.first_checked_in_at:
        result, action = Result.OK, Action.BACKDATE  # an earlier entry stands as the first check-in
    elif presence is not None and (presence.inside or at < presence.last_moved_at):
        result, action = Result.ALREADY_CHECKED_IN, Action.NONE
    elif presence is None and subject.status is Status.WAITLISTED and not went_in:
        result, action = Result.WAITLISTED, Action.NONE  # staff decide: their admit is a scan of its own
    elif not (subject.mode is Mode.VENUE and subject.status is Status.REGISTERED) and seats <= 0 and not went_in:
        result, action = Result.VENUE_FULL, Action.NONE
    else:
        result, action = Result.OK, (Action.ADMIT if presence is None else Action.REENTER)
    if shown is not None and not went_in and action is not Action.NONE:
        # The offline kiosk turned the person away: that stands, and nothing changes.
        # A word the contract does not answer with (`duplicate` only names a log row) is `unknown`.
        known = shown in set(Result) and shown != Result.DUPLICATE
        return (Result(shown) if known else Result.UNKNOWN), Action.NONE
    return result, action


@settings(max_examples=400)
@given(
    subject=subjects,
    presence=presences,
    direction=st.sampled_from(Direction),
    at=times,
    seats=st.integers(-2, 3),
    shown=offline,
)
def test_one_scan_is_decided_as_the_model_says(
    subject: Subject, presence: Presence | None, direction: Direction, at: float, seats: int, shown: str | None
) -> None:
    """Result and change agree with the model; an ok changes attendance, anything else changes nothing."""
    decision = decide(subject, presence, direction, at, seats, shown)
    assert (decision.result, decision.action) == model(subject, presence, direction, at, seats, shown)
    assert (decision.action is not Action.NONE) <= (decision.result in (Result.OK, Result.EXITED))
    if decision.result is Result.OK and direction is Direction.IN and presence is None and shown in (None, "ok"):
        assert decision.action is Action.ADMIT
    if "reentry" in decision.warnings:  # someone coming back: let in, or refused for want of a seat
        assert decision.action is Action.REENTER or decision.result is Result.VENUE_FULL
    if shown == "ok" and direction is Direction.IN and presence is None:
        assert decision.action is Action.ADMIT  # what happened at the door is recorded, flagged if need be
        assert ("admitted_offline_revoked" in decision.warnings) == subject.revoked


def door(presence: Presence | None, decision: Decision, at: float) -> Presence | None:
    """Attendance after a decision, as storage applies it."""
    if decision.action is Action.ADMIT:
        return Presence(at, "受付", True, at)
    assert presence is not None or decision.action is Action.NONE
    if presence is None or decision.action is Action.NONE:
        return presence
    if decision.action is Action.BACKDATE:
        return replace(presence, first_checked_in_at=at)
    return replace(presence, inside=decision.action is Action.REENTER, last_moved_at=at)


@settings(max_examples=200)
@given(subject=subjects, entries=st.lists(times, min_size=1, max_size=8), seats=st.integers(-1, 2))
def test_offline_entries_in_any_order_leave_the_earliest_standing(
    subject: Subject, entries: list[float], seats: int
) -> None:
    """Entries an offline kiosk let in, synced in any order: one admission, the earliest time stands, inside."""
    presence = None
    admissions = 0
    for at in entries:
        decision = decide(subject, presence, Direction.IN, at, seats, "ok")
        admissions += decision.action is Action.ADMIT
        presence = door(presence, decision, at)
    assert admissions == 1
    assert presence is not None and presence.inside
    assert presence.first_checked_in_at == min(entries)


@settings(max_examples=200)
@given(
    subject=subjects.filter(lambda s: not s.revoked),
    moves=st.lists(st.sampled_from(Direction), max_size=12),
    seats=st.integers(1, 3),
)
def test_live_scans_in_time_order_follow_the_person_in_and_out(
    subject: Subject, moves: list[Direction], seats: int
) -> None:
    """Scans as they happen: in when out, out when in, a repeat of either changes nothing; first stays first."""
    presence: Presence | None = None
    inside = False
    for n, direction in enumerate(moves):
        at = T0 + n
        decision = decide(subject, presence, direction, at, seats, admit=True)  # staff admit the waiting list
        presence = door(presence, decision, at)
        changed = decision.action is not Action.NONE
        assert changed == (inside != (direction is Direction.IN))
        inside = direction is Direction.IN if changed else inside
        assert (presence is not None and presence.inside) == inside
    if presence is not None:
        assert presence.first_checked_in_at == T0 + moves.index(Direction.IN)


@settings(max_examples=100)
@given(seats=st.integers(-2, 3), shown=offline)
def test_a_walk_in_is_admitted_only_with_a_seat_or_the_offline_kiosks_word(seats: int, shown: str | None) -> None:
    """A walk-in takes a free seat; past capacity only an offline `ok` admits (flagged); a refusal stands."""
    decision = decide_walkin(seats, shown)
    admitted = shown == "ok" or (shown is None and seats > 0)
    assert (decision.action is Action.ADMIT) == admitted
    assert ("over_capacity" in decision.warnings) == (admitted and seats <= 0)

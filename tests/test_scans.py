"""Rules of the door: the decision for one scan, and the checks of what a kiosk sends."""

from __future__ import annotations

import pytest

from checkin import tickets
from checkin.errors import Invalid
from checkin.models import JST, Mode, Registrant, Status, parse_iso
from checkin.scans import (
    MAX_OFFLINE_AGE,
    Action,
    Counts,
    Decision,
    Direction,
    Method,
    Presence,
    Result,
    Subject,
    answer,
    clamp_scanned_at,
    code_problem,
    decide,
    decide_walkin,
    extract_code,
    parse_heartbeat,
    parse_scan,
    parse_walkin,
)

pytestmark = pytest.mark.both_engines

T0 = parse_iso("2023-11-27T13:00:00+09:00")
VENUE = Subject(Mode.VENUE, Status.REGISTERED)
ONLINE = Subject(Mode.ONLINE, Status.REGISTERED)
INSIDE = Presence(first_checked_in_at=T0, first_kiosk="受付1", inside=True, last_moved_at=T0)
LEFT = Presence(first_checked_in_at=T0, first_kiosk="受付1", inside=False, last_moved_at=T0 + 600)


def test_first_entry_of_a_venue_registrant_is_ok_and_admits() -> None:
    """A registered venue registrant with no check-in is admitted."""
    assert decide(VENUE, None, Direction.IN, T0, room=10) == Decision(Result.OK, Action.ADMIT)


def test_second_entry_is_already_checked_in_and_changes_nothing() -> None:
    """Someone inside scanned again is already_checked_in, with no change."""
    decision = decide(VENUE, INSIDE, Direction.IN, T0 + 5, room=10)
    assert decision.result is Result.ALREADY_CHECKED_IN
    assert decision.action is Action.NONE
    assert decision.log_result is Result.ALREADY_CHECKED_IN


def test_registered_venue_seat_is_kept_even_when_the_hall_is_full() -> None:
    """A venue registrant holds a seat: admitted when the hall is at capacity, with hall_full (and flagged past it)."""
    decision = decide(VENUE, None, Direction.IN, T0, room=0)
    assert (decision.result, decision.action, decision.warnings) == (
        Result.OK,
        Action.ADMIT,
        ("hall_full", "over_capacity"),
    )


def test_hall_full_warns_when_an_admission_fills_the_hall() -> None:
    """The admission that takes the last place warns hall_full; with places to spare, no warning."""
    assert decide(VENUE, None, Direction.IN, T0, room=1).warnings == ("hall_full",)
    assert decide(VENUE, None, Direction.IN, T0, room=2).warnings == ()


def test_online_registrant_is_ok_with_warning_while_seats_remain() -> None:
    """An online registrant at the door is ok + registered_online while the hall has room, else venue_full."""
    assert decide(ONLINE, None, Direction.IN, T0, room=2).warnings == ("registered_online",)
    assert decide(ONLINE, None, Direction.IN, T0, room=0).result is Result.VENUE_FULL


WAITING = Subject(Mode.VENUE, Status.WAITLISTED)


def test_waitlisted_scan_answers_waitlisted_and_admits_nobody() -> None:
    """A waitlisted person's scan is `waitlisted` with no change, room or not: staff decide."""
    assert decide(WAITING, None, Direction.IN, T0, room=3) == Decision(Result.WAITLISTED)
    assert decide(WAITING, None, Direction.IN, T0, room=0) == Decision(Result.WAITLISTED)


def test_staff_admit_a_waitlisted_person_only_while_the_hall_has_room() -> None:
    """With `admit`, a waitlisted person goes in while there is room (flagged waitlisted), else venue_full."""
    admitted = decide(WAITING, None, Direction.IN, T0, room=3, admit=True)
    assert (admitted.result, admitted.action, admitted.warnings) == (Result.OK, Action.ADMIT, ("waitlisted",))
    assert decide(WAITING, None, Direction.IN, T0, room=1, admit=True).warnings == ("waitlisted", "hall_full")
    assert decide(WAITING, None, Direction.IN, T0, room=0, admit=True) == Decision(Result.VENUE_FULL)


def test_admit_changes_nothing_for_anyone_else() -> None:
    """`admit` is for the waiting list: it lets no revoked ticket in and gives an online registrant no room."""
    assert decide(Subject(Mode.VENUE, Status.CANCELLED), None, Direction.IN, T0, 5, admit=True).result is Result.REVOKED
    assert decide(ONLINE, None, Direction.IN, T0, 0, admit=True).result is Result.VENUE_FULL
    assert decide(VENUE, None, Direction.IN, T0, 5, admit=True) == Decision(Result.OK, Action.ADMIT)


def test_waitlisted_person_admitted_offline_is_recorded() -> None:
    """An offline kiosk's admit of a waitlisted person happened: recorded even without room, and flagged."""
    decision = decide(WAITING, None, Direction.IN, T0, room=0, offline_decision="ok", admit=True)
    assert (decision.result, decision.action) == (Result.OK, Action.ADMIT)
    assert decision.warnings == ("waitlisted", "hall_full", "over_capacity")
    refused = decide(WAITING, None, Direction.IN, T0, room=5, offline_decision="waitlisted")
    assert (refused.result, refused.action) == (Result.WAITLISTED, Action.NONE)


def test_admitted_waitlisted_person_reenters_while_there_is_room() -> None:
    """Back after an exit, an admitted waitlisted person needs room again but no second admit."""
    assert decide(WAITING, LEFT, Direction.IN, T0 + 900, 2).warnings == ("reentry", "waitlisted")
    assert decide(WAITING, LEFT, Direction.IN, T0 + 900, 0).result is Result.VENUE_FULL


def test_revoked_ticket_and_cancelled_registration_are_refused() -> None:
    """A re-issued (old) code and a cancelled registration are revoked."""
    assert decide(Subject(Mode.VENUE, Status.REGISTERED, True), None, Direction.IN, T0, 5).result is Result.REVOKED
    assert decide(Subject(Mode.VENUE, Status.CANCELLED), None, Direction.IN, T0, 5).result is Result.REVOKED


def test_revoked_ticket_admitted_offline_is_recorded_and_flagged() -> None:
    """What an offline kiosk let in happened: admitted, flagged admitted_offline_revoked, never dropped."""
    decision = decide(Subject(Mode.VENUE, Status.CANCELLED), None, Direction.IN, T0, 5, offline_decision="ok")
    assert decision.result is Result.OK and decision.action is Action.ADMIT
    assert "admitted_offline_revoked" in decision.warnings


def test_offline_admission_into_a_full_hall_is_recorded() -> None:
    """An online registrant admitted offline counts even though the hall was full, flagged over_capacity."""
    decision = decide(ONLINE, None, Direction.IN, T0, room=0, offline_decision="ok")
    assert decision.action is Action.ADMIT
    assert "over_capacity" in decision.warnings


def test_earlier_offline_scan_replaces_the_standing_check_in() -> None:
    """A scan from before the standing first check-in wins it (backdate), whichever arrived first."""
    decision = decide(VENUE, INSIDE, Direction.IN, T0 - 60, room=5, offline_decision="ok")
    assert (decision.result, decision.action) == (Result.OK, Action.BACKDATE)
    assert "earlier_scan_stands" in decision.warnings


def test_later_offline_admission_is_logged_as_duplicate() -> None:
    """A second offline admission of someone already in is already_checked_in, logged as duplicate."""
    decision = decide(VENUE, INSIDE, Direction.IN, T0 + 60, room=5, offline_decision="ok")
    assert decision.result is Result.ALREADY_CHECKED_IN
    assert decision.log_result is Result.DUPLICATE


def test_return_after_exit_is_a_reentry_within_seat_rules() -> None:
    """Back in after leaving: ok with reentry; an online registrant needs a free seat again."""
    assert decide(VENUE, LEFT, Direction.IN, T0 + 900, 0).action is Action.REENTER
    assert decide(ONLINE, LEFT, Direction.IN, T0 + 900, 0).result is Result.VENUE_FULL
    assert decide(ONLINE, LEFT, Direction.IN, T0 + 900, 2).warnings == ("reentry", "registered_online")


def test_entry_older_than_the_last_exit_changes_nothing() -> None:
    """A late offline entry scanned before the recorded exit is a duplicate of the first entry."""
    decision = decide(VENUE, LEFT, Direction.IN, T0 + 300, 5)
    assert (decision.result, decision.action) == (Result.ALREADY_CHECKED_IN, Action.NONE)


def test_offline_refusal_changes_nothing_and_keeps_the_kiosks_word() -> None:
    """A person an offline kiosk turned away is not admitted later, even where the server would admit."""
    decision = decide(VENUE, None, Direction.IN, T0, room=5, offline_decision="unknown")
    assert decision == Decision(Result.UNKNOWN, warnings=("refused_offline",))
    assert decide(VENUE, INSIDE, Direction.IN, T0 - 60, 5, offline_decision="venue_full").action is Action.NONE
    assert decide(VENUE, None, Direction.IN, T0, 5, offline_decision="whatever").result is Result.UNKNOWN
    assert decide(VENUE, None, Direction.IN, T0, 5, offline_decision="whatever").action is Action.NONE
    assert (
        decide(VENUE, INSIDE, Direction.IN, T0 + 5, 5, offline_decision="revoked").result is Result.ALREADY_CHECKED_IN
    )


def test_exit_rules() -> None:
    """Out: exited when inside; not_checked_in when never in or already out; an old exit changes nothing."""
    assert decide(VENUE, INSIDE, Direction.OUT, T0 + 60, 5) == Decision(Result.EXITED, Action.EXIT)
    assert decide(VENUE, None, Direction.OUT, T0, 5).result is Result.NOT_CHECKED_IN
    assert decide(VENUE, LEFT, Direction.OUT, T0 + 900, 5).warnings == ("already_exited",)
    assert decide(VENUE, INSIDE, Direction.OUT, T0 - 60, 5) == Decision(Result.EXITED, warnings=("out_of_order",))


def test_exit_works_with_a_revoked_ticket() -> None:
    """Leaving is recorded whatever became of the ticket."""
    assert decide(Subject(Mode.VENUE, Status.CANCELLED), INSIDE, Direction.OUT, T0 + 5, 5).action is Action.EXIT


def test_walkin_needs_a_free_seat_unless_admitted_offline() -> None:
    """A walk-in is admitted into a free seat, else venue_full; the offline kiosk's word stands."""
    assert decide_walkin(1).action is Action.ADMIT
    assert decide_walkin(0).result is Result.VENUE_FULL
    assert decide_walkin(0, "ok").warnings == ("walkin", "hall_full", "over_capacity")
    assert decide_walkin(1).warnings == ("walkin", "hall_full")
    assert decide_walkin(5, "venue_full") == Decision(Result.VENUE_FULL, warnings=("refused_offline",))
    assert decide_walkin(5, "not_in_local_data").action is Action.NONE


def test_code_problem_tells_garbage_truncated_mistyped_and_foreign_codes() -> None:
    """Garbage, a truncated and a mistyped code are invalid; another event's code is wrong_event."""
    code = tickets.new_code("sympo")
    mistyped = code[:-3] + ("A" if code[-3] != "A" else "B") + code[-2:]
    assert code_problem(code, "sympo") is None
    assert code_problem(code.lower(), "sympo") is None
    for bad in ("hello", code[:-4], mistyped, "", "ＱＲ", "x" * 500):
        assert code_problem(bad, "sympo") is Result.INVALID
    assert code_problem(tickets.new_code("other"), "sympo") is Result.WRONG_EVENT


def test_extract_code_reads_ticket_page_addresses() -> None:
    """A scanned ticket-page address yields its code; plain text is kept."""
    assert extract_code(" https://x.jp/t/CK1-AAAA-B?utm=1 ") == "CK1-AAAA-B"
    assert extract_code("https://x.jp/t/CK1-AAAA-B.png") == "CK1-AAAA-B"
    assert extract_code(" CK1-AAAA-B\n") == "CK1-AAAA-B"


def test_clamp_keeps_offline_times_in_a_sane_window() -> None:
    """scanned_at never lies in the future, nor further back than a day; adjusted times are marked."""
    assert clamp_scanned_at(None, T0) == (T0, False)
    assert clamp_scanned_at(T0 - 300, T0) == (T0 - 300, False)
    assert clamp_scanned_at(T0 + 300, T0) == (T0, True)
    assert clamp_scanned_at(T0 - 10 * MAX_OFFLINE_AGE, T0) == (T0 - MAX_OFFLINE_AGE, True)


def test_parse_scan_defaults_and_offline_fields() -> None:
    """Direction in, method by kind of input, scanned_at parsed, offline 'ok' understood."""
    by_code = parse_scan({"code": "CK1", "scan_id": " a "})
    assert (by_code.scan_id, by_code.direction, by_code.method) == ("a", Direction.IN, Method.CAMERA)
    by_id = parse_scan(
        {"registrant_id": 3, "scan_id": "b", "scanned_at": "2023-11-27T13:00:00+09:00", "offline_decision": "ok"}
    )
    assert (by_id.method, by_id.scanned_at, by_id.admitted_offline) == (Method.SEARCH, T0, True)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"code": "x"}, "scan_id"),
        ({"code": "x", "scan_id": "s" * 65}, "scan_id"),
        ({"code": "x", "scan_id": 5}, "scan_id"),
        ({"scan_id": "a"}, "code"),
        ({"scan_id": "a", "code": "x", "registrant_id": 1}, "code"),
        ({"scan_id": "a", "code": ["x"]}, "code"),
        ({"scan_id": "a", "registrant_id": True}, "registrant_id"),
        ({"scan_id": "a", "registrant_id": "7"}, "registrant_id"),
        ({"scan_id": "a", "registrant_id": 2**64}, "registrant_id"),
        ({"scan_id": "a", "registrant_id": 0}, "registrant_id"),
        ({"scan_id": "a", "code": "x", "direction": "up"}, "direction"),
        ({"scan_id": "a", "code": "x", "direction": ["in"]}, "direction"),
        ({"scan_id": "a", "code": "x", "method": "telepathy"}, "method"),
        ({"scan_id": "a", "code": "x", "scanned_at": "yesterday"}, "scanned_at"),
        ({"scan_id": "a", "code": "x", "scanned_at": 1700000000}, "scanned_at"),
        ({"scan_id": "a", "code": "x", "offline_decision": True}, "offline_decision"),
    ],
)
def test_parse_scan_refuses_bad_fields(body: dict[str, object], field: str) -> None:
    """Each malformed field is reported by name."""
    with pytest.raises(Invalid) as caught:
        parse_scan(body)
    assert field in caught.value.fields


def test_parse_walkin_makes_email_optional() -> None:
    """A walk-in needs name, reading and scan_id; the e-mail may be left out but must be valid if given."""
    walkin = parse_walkin({"name": "飛込 次郎", "kana": "とびこみ じろう", "scan_id": "w1"})
    assert (walkin.app.email, walkin.app.mode, walkin.scan.scan_id) == ("", Mode.VENUE, "w1")
    assert walkin.scan.method is Method.WALKIN
    walkin = parse_walkin(
        {"name": "飛込", "kana": "トビコミ", "email": "j@example.jp", "scan_id": "w2", "offline_decision": "ok"}
    )
    assert (walkin.app.email, walkin.scan.offline_decision) == ("j@example.jp", "ok")
    with pytest.raises(Invalid) as caught:
        parse_walkin({"name": "", "kana": "Tobikomi", "email": "nope", "scanned_at": "soon"})
    assert set(caught.value.fields) == {"name", "kana", "email", "scan_id", "scanned_at"}
    with pytest.raises(Invalid) as caught:
        parse_walkin({"name": "飛込 次郎", "kana": "トビコミ"})
    assert set(caught.value.fields) == {"scan_id"}


def test_parse_heartbeat_checks_types() -> None:
    """A heartbeat's queue length, last scan time, direction and online flag are checked."""
    beat = parse_heartbeat({"queue_length": 3, "last_scan_at": "2023-11-27T13:00:00+09:00", "direction": "out"})
    assert (beat.queue_length, beat.last_scan_at, beat.exit_mode, beat.online) == (3, T0, True, True)
    with pytest.raises(Invalid) as caught:
        parse_heartbeat({"queue_length": -1, "last_scan_at": "never", "direction": "sideways", "online": "yes"})
    assert set(caught.value.fields) == {"queue_length", "last_scan_at", "direction", "online"}


def test_answer_carries_registrant_first_check_in_and_counts() -> None:
    """The answer holds the result, the registrant without e-mail, the first check-in in JST and counts."""
    person = Registrant(
        1, 1, "R1", "山田 太郎", "ヤマダ タロウ", "y@example.jp", "総務省", Mode.VENUE, Status.REGISTERED, T0
    )
    body = answer(Decision(Result.OK, Action.ADMIT), "s1", person, (T0, "受付1"), Counts(300, 5, 4, 320), JST)
    assert body["first_checked_in_at"] == "2023-11-27T13:00:00+09:00"
    assert body["registrant"] == {
        "id": 1,
        "ref_no": "R1",
        "name": "山田 太郎",
        "kana": "ヤマダ タロウ",
        "organisation": "総務省",
        "mode": "venue",
    }
    assert (body["in_hall"], body["checked_in"], body["first_kiosk"], body["hall_capacity"]) == (4, 5, "受付1", 320)
    bare = answer(Decision(Result.INVALID), "s2", None, None, Counts(300, 5, 4, 320), JST)
    assert set(bare) == {"result", "scan_id", "warnings", "in_hall", "checked_in", "hall_capacity"}


def test_parse_scan_reads_admit_and_refuses_a_non_boolean() -> None:
    """`admit` is a boolean (default false); anything else is a field error."""
    assert parse_scan({"scan_id": "s1", "code": "x", "admit": True}).admit is True
    assert parse_scan({"scan_id": "s1", "code": "x"}).admit is False
    with pytest.raises(Invalid) as caught:
        parse_scan({"scan_id": "s1", "code": "x", "admit": "yes"})
    assert caught.value.fields == {"admit": "type"}

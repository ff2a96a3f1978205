"""Presence rules: who counts as watching, and when a viewing starts and ends."""

from __future__ import annotations

import pytest

from checkin.errors import Refusal, Refused
from checkin.presence import Change, Identity, Kind, Presence, RateLimit

GRACE = 12.0
ALICE = Identity.registrant(1, "sympo", 7)
BOB = Identity.registrant(1, "sympo", 8)
ANON = Identity.anonymous(1, "sympo", "7")


def starts(changes: list[Change]) -> list[tuple[str, float]]:
    return [(c.identity.viewer_key, c.at) for c in changes if c.kind is Kind.START]


def ends(changes: list[Change]) -> list[tuple[str, float]]:
    return [(c.identity.viewer_key, c.at) for c in changes if c.kind is Kind.END]


def test_connection_counts_only_once_it_says_watching() -> None:
    """An open connection that has not said `watching: true` does not count."""
    presence = Presence(GRACE)
    presence.connect(ALICE, 1)
    assert presence.counting() == 0
    assert starts(presence.state(1, True, 100.0)) == [("reg:7", 100.0)]
    assert presence.counting() == 1


def test_three_tabs_of_one_person_count_once() -> None:
    """Tabs and devices of one registrant make one viewer and one viewing."""
    presence = Presence(GRACE)
    changes = []
    for connection in (1, 2, 3):
        presence.connect(ALICE, connection)
        changes += presence.state(connection, True, 100.0 + connection)
    assert starts(changes) == [("reg:7", 101.0)]
    assert presence.counting() == 1


def test_viewer_counts_while_any_connection_watches() -> None:
    """A hidden tab does not stop the viewing while another tab of the same person plays."""
    presence = Presence(GRACE)
    for connection in (1, 2):
        presence.connect(ALICE, connection)
        presence.state(connection, True, 100.0)
    presence.state(1, False, 110.0)
    assert presence.expire(200.0) == []
    assert presence.counting() == 1


def test_pause_ends_the_viewing_after_the_grace_at_the_pause() -> None:
    """Pausing stops counting once the grace is over; the viewing ends when the pause began."""
    presence = Presence(GRACE)
    presence.connect(ALICE, 1)
    presence.state(1, True, 100.0)
    presence.state(1, False, 160.0)
    assert presence.expire(160.0 + GRACE - 0.1) == []
    assert presence.counting() == 1
    assert ends(presence.expire(160.0 + GRACE)) == [("reg:7", 160.0)]
    assert presence.counting() == 0


def test_hidden_page_ends_the_viewing_like_a_pause() -> None:
    """Every tab hidden: the viewing ends after the grace, at the moment the last one was hidden."""
    presence = Presence(GRACE)
    for connection in (1, 2):
        presence.connect(ALICE, connection)
        presence.state(connection, True, 100.0)
    presence.state(1, False, 120.0)
    presence.state(2, False, 130.0)
    assert ends(presence.expire(200.0)) == [("reg:7", 130.0)]


def test_resuming_inside_the_grace_continues_the_viewing() -> None:
    """A short pause makes no new viewing and no end."""
    presence = Presence(GRACE)
    presence.connect(ALICE, 1)
    presence.state(1, True, 100.0)
    presence.state(1, False, 110.0)
    assert presence.state(1, True, 115.0) == []
    assert presence.expire(500.0) == []


def test_reload_inside_the_grace_is_one_viewing() -> None:
    """A reload (close, new connection, play) neither ends the viewing nor starts another."""
    presence = Presence(GRACE)
    presence.connect(ALICE, 1)
    changes = presence.state(1, True, 100.0)
    changes += presence.disconnect(1, 150.0)
    presence.connect(ALICE, 2)
    changes += presence.state(2, True, 153.0)
    changes += presence.expire(400.0)
    assert [c.kind for c in changes] == [Kind.START]
    assert presence.counting() == 1


def test_lost_connection_ends_at_its_last_sign_of_life() -> None:
    """A connection found dead late ends the viewing at when it was last alive, once the grace is over."""
    presence = Presence(GRACE)
    presence.connect(ALICE, 1)
    presence.state(1, True, 100.0)
    presence.disconnect(1, now=230.0, last_alive=215.0)
    assert ends(presence.expire(231.0)) == [("reg:7", 215.0)]
    assert presence.connections() == 0


def test_closed_connection_ends_after_the_grace() -> None:
    """A closed tab leaves the viewer counted through the grace, then ends it at the close."""
    presence = Presence(GRACE)
    presence.connect(ALICE, 1)
    presence.state(1, True, 100.0)
    presence.disconnect(1, 150.0)
    assert presence.counting() == 1
    assert ends(presence.expire(150.0 + GRACE)) == [("reg:7", 150.0)]
    assert presence.counting() == 0


def test_anonymous_viewers_are_counted_apart() -> None:
    """An anonymous browser id is its own viewer, never confused with a registrant."""
    presence = Presence(GRACE)
    for connection, identity in enumerate((ALICE, BOB, ANON, ANON)):
        presence.connect(identity, connection)
        presence.state(connection, True, 100.0)
    assert presence.counting() == 3
    assert ANON.viewer_key == "anon:7"
    assert ANON.registrant_id is None


def test_connections_per_viewer_are_capped() -> None:
    """Past the cap, a viewer's next connection is refused."""
    presence = Presence(GRACE, max_connections_per_viewer=2)
    presence.connect(ALICE, 1)
    presence.connect(ALICE, 2)
    with pytest.raises(Refused) as refused:
        presence.connect(ALICE, 3)
    assert refused.value.reason is Refusal.TOO_MANY_CONNECTIONS
    presence.connect(BOB, 4)


def test_adopted_viewing_continues_when_the_viewer_returns() -> None:
    """A viewing left open at a restart continues if the viewer is back inside the grace."""
    presence = Presence(GRACE)
    presence.adopt(ALICE, last_seen_at=100.0)
    presence.connect(ALICE, 1)
    assert presence.state(1, True, 105.0) == []
    assert presence.expire(300.0) == []


def test_adopted_viewing_ends_at_its_last_sign_of_life() -> None:
    """A viewing left open at a restart whose viewer does not return ends at its last recorded sign of life."""
    presence = Presence(GRACE)
    presence.adopt(ALICE, last_seen_at=100.0)
    assert ends(presence.expire(100.0 + GRACE)) == [("reg:7", 100.0)]
    assert presence.counting() == 0


def test_watching_and_idle_lists_split_the_counting_viewers() -> None:
    """Watching viewers are alive now; idle ones carry their last sign of life."""
    presence = Presence(GRACE)
    for connection, identity in ((1, ALICE), (2, BOB)):
        presence.connect(identity, connection)
        presence.state(connection, True, 100.0)
    presence.state(2, False, 120.0)
    assert presence.watching() == [ALICE]
    assert presence.idle() == [(BOB, 120.0)]


def test_rate_limit_allows_a_burst_then_the_refill_rate() -> None:
    """A token bucket passes `burst` messages at once, then one per 1/rate seconds."""
    limit = RateLimit(per_second=2.0, burst=3.0)
    assert [limit.allow(10.0) for _ in range(4)] == [True, True, True, False]
    assert limit.allow(10.5)
    assert not limit.allow(10.5)

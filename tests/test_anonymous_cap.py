"""Anonymous viewers per client address: made-up ids from one machine cannot raise the figures at will."""

from __future__ import annotations

import json
from dataclasses import replace

import httpx
import pytest
import websockets

from checkin.models import Event, Role
from checkin.presence import Identity, Presence
from checkin.settings import Settings
from tests.conftest import make_token
from tests.test_watch import figures, say, settle
from tests.utils import LiveServer, run_server

CAP = 3


def anonymous(browser: str, address: str = "198.51.100.1", event_id: int = 1) -> Identity:
    return replace(Identity.anonymous(event_id, "sympo", f"browser-{browser:0>10}"), address=address)


def test_a_new_anonymous_viewer_past_the_cap_of_its_address_is_refused() -> None:
    """Up to the cap per address and event; a viewer already present may add tabs; others are counted refused."""
    presence = Presence(grace=10)
    for number in range(CAP):
        assert presence.admits_anonymous(anonymous(str(number)), CAP)
        presence.connect(anonymous(str(number)), number)
    assert not presence.admits_anonymous(anonymous("new"), CAP)
    assert not presence.admits_anonymous(anonymous("new"), CAP)  # the same browser retrying
    assert presence.admits_anonymous(anonymous("0"), CAP)  # another tab of a viewer already in
    assert presence.admits_anonymous(anonymous("new", address="198.51.100.2"), CAP)
    assert presence.admits_anonymous(anonymous("new", event_id=2), CAP)
    assert (presence.refused_anonymous(1), presence.refused_anonymous(2)) == (1, 0)


def test_an_anonymous_viewer_holds_its_place_until_its_grace_is_over() -> None:
    """A viewer that watched keeps its place through the grace period (a reload), and frees it after."""
    presence = Presence(grace=10)
    for number in range(CAP):
        presence.connect(anonymous(str(number)), number)
    presence.state(0, True, now=100)
    presence.disconnect(0, now=101)
    presence.disconnect(1, now=101)
    assert presence.admits_anonymous(anonymous("new"), CAP)  # viewer 1 never watched: gone at once
    presence.connect(anonymous("new"), 10)
    assert not presence.admits_anonymous(anonymous("newer"), CAP)  # viewer 0 inside its grace
    presence.expire(now=112)
    assert presence.admits_anonymous(anonymous("newer"), CAP)


def test_registrants_are_not_capped_by_address() -> None:
    """The cap is for made-up ids: a registrant's ticket is a credential of its own."""
    presence = Presence(grace=10)
    for number in range(CAP):
        presence.connect(anonymous(str(number)), number)
    assert presence.admits_anonymous(Identity.registrant(1, "sympo", 7), CAP)


async def open_anonymous(server: LiveServer, number: int) -> tuple[websockets.ClientConnection, dict[str, object]]:
    socket = await websockets.connect(f"{server.ws_url}/ws/events/sympo/watch?anon=browser-{number:016d}")
    return socket, json.loads(await socket.recv())


async def test_anonymous_viewers_past_the_cap_are_refused_and_reported(settings: Settings, event: Event) -> None:
    """From one address, the cap's worth of made-up ids count; the rest get 4429, and the report says how many."""
    capped = replace(settings, max_anonymous_per_address=CAP, watch_grace=0.5)
    with run_server(capped) as server:
        admitted = [await open_anonymous(server, number) for number in range(CAP)]
        for socket, hello in admitted:
            assert hello["type"] == "hello"
            await say(socket, True)
        for number in range(CAP, CAP + 4):
            socket, message = await open_anonymous(server, number)
            assert message == {"type": "error", "error": "too_many_anonymous"}
            with pytest.raises(websockets.ConnectionClosed):
                await socket.recv()
            assert (socket.close_code, socket.close_reason) == (4429, "too_many_anonymous")
        assert (await settle(capped, event, lambda f: f.now == CAP)).now == CAP
        organiser = make_token(capped, event, Role.ORGANISER)
        async with httpx.AsyncClient(base_url=server.url) as client:
            response = await client.get("/api/v1/events/sympo/report", headers={"authorization": f"Bearer {organiser}"})
        assert response.json()["anonymous_refused"] == 4
        for socket, _ in admitted:
            await socket.close()
    assert figures(capped, event).unique == CAP


async def test_the_anonymous_cap_is_lifted_by_the_switch(settings: Settings, event: Event) -> None:
    """CHECKIN_RATE_LIMITS=off lets any number of anonymous viewers in from one address."""
    with run_server(replace(settings, max_anonymous_per_address=CAP, rate_limits=False)) as server:
        opened = [await open_anonymous(server, number) for number in range(CAP + 2)]
        assert [hello["type"] for _, hello in opened] == ["hello"] * (CAP + 2)
        for socket, _ in opened:
            await socket.close()

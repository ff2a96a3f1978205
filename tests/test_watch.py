"""The watch pages and the presence websocket, end to end against a real uvicorn server."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import httpx
import pytest
import websockets
from starlette.testclient import TestClient
from starlette.types import Message
from websockets.asyncio.client import ClientConnection

from checkin import tickets
from checkin.app import create_app
from checkin.models import Event, Mode
from checkin.registration import Application
from checkin.settings import Settings
from checkin.storage import database_for, opened
from checkin.storage.registrants import cancel, register
from checkin.storage.viewing import OnlineFigures, online_figures
from checkin.web.security import REDACT_QUERY_STRINGS
from checkin.web.watch import stream_of, watch_socket
from tests.conftest import seed_event
from tests.utils import EVENT, LiveServer, run_server

pytestmark = pytest.mark.both_engines

GRACE = 1.0
ANON = "anon-" + "a" * 20


@dataclass
class Seeded:
    codes: list[str]
    revoked: str


def seed_viewers(settings: Settings, event: Event, count: int = 2) -> Seeded:
    """Registered online viewers with tickets, and one cancelled registrant's revoked ticket."""
    database = database_for(settings)
    database.open()
    try:
        codes = []
        for number in range(count + 1):
            person = Application(f"視聴 {number}", "シチョウ", f"v{number}@example.jp", "", Mode.ONLINE)
            result = database.write_sync(register, event, person, time.time())
            assert result.ticket is not None
            codes.append(result.ticket.code)
        database.write_sync(cancel, event, result.registrant.id, time.time(), "test")
        return Seeded(codes[:-1], codes[-1])
    finally:
        database.close()


@pytest.fixture
def fast(settings: Settings) -> Settings:
    """A short grace period, so tests see viewings end quickly."""
    return replace(settings, watch_grace=GRACE)


@pytest.fixture
def seeded(fast: Settings, event: Event) -> Seeded:
    return seed_viewers(fast, event)


@pytest.fixture
def server(fast: Settings, seeded: Seeded) -> Iterator[LiveServer]:
    with run_server(fast) as live:
        yield live


def figures(settings: Settings, event: Event) -> OnlineFigures:
    with opened(settings) as database:
        return database.read_sync(online_figures, event.id, time.time())


async def settle(settings: Settings, event: Event, check: Callable[[OnlineFigures], bool]) -> OnlineFigures:
    """The figures once `check` holds (polled; the server records changes asynchronously)."""
    deadline = time.monotonic() + 15
    while True:
        result = figures(settings, event)
        if check(result) or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.05)


async def open_viewer(server: LiveServer, query: str, slug: str = "sympo") -> tuple[ClientConnection, dict[str, Any]]:
    socket = await websockets.connect(f"{server.ws_url}/ws/events/{slug}/watch?{query}")
    return socket, json.loads(await socket.recv())


async def say(socket: ClientConnection, watching: bool) -> dict[str, Any]:
    await socket.send(json.dumps({"type": "state", "watching": watching}))
    reply: dict[str, Any] = json.loads(await socket.recv())
    return reply


async def refusal(server: LiveServer, query: str, slug: str = "sympo") -> tuple[str, int | None, str | None]:
    """The error a refused connection is told, and the code and reason it is closed with."""
    socket, message = await open_viewer(server, query, slug)
    with pytest.raises(websockets.ConnectionClosed):
        await socket.recv()
    assert socket.close_code is not None
    return message["error"], socket.close_code, socket.close_reason


async def test_three_tabs_of_one_registrant_count_once(
    server: LiveServer, fast: Settings, event: Event, seeded: Seeded
) -> None:
    """Three connections of one ticket make one viewer; closing them all ends it after the grace."""
    tabs = [await open_viewer(server, f"ticket={seeded.codes[0]}") for _ in range(3)]
    assert tabs[0][1] == {"type": "hello", "viewer": "registrant", "event": "sympo", "grace": GRACE}
    for socket, _hello in tabs:
        assert await say(socket, True) == {"type": "ack", "watching": True}
    assert (await settle(fast, event, lambda f: f.now == 1)).now == 1
    for socket, _hello in tabs:
        await socket.close()
    result = await settle(fast, event, lambda f: f.now == 0)
    assert (result.now, result.peak, result.unique, result.unique_registrants) == (0, 1, 1, 1)


async def test_registrants_and_anonymous_viewers_count_apart(
    server: LiveServer, fast: Settings, event: Event, seeded: Seeded
) -> None:
    """Two registrants and an anonymous viewer are three; pausing ends a viewing after the grace."""
    sockets = []
    for query in (f"ticket={seeded.codes[0]}", f"ticket={seeded.codes[1]}", f"anon={ANON}"):
        socket, _hello = await open_viewer(server, query)
        await say(socket, True)
        sockets.append(socket)
    result = await settle(fast, event, lambda f: f.now == 3)
    assert (result.now, result.unique_anonymous) == (3, 1)
    await say(sockets[2], False)
    assert (await settle(fast, event, lambda f: f.now == 2)).now == 2
    for socket in sockets:
        await socket.close()


async def test_reload_inside_the_grace_is_one_interval(
    server: LiveServer, fast: Settings, event: Event, seeded: Seeded
) -> None:
    """Closing and reopening the page within the grace keeps one viewing."""
    socket, _hello = await open_viewer(server, f"anon={ANON}")
    await say(socket, True)
    await settle(fast, event, lambda f: f.now == 1)
    await socket.close()
    socket, _hello = await open_viewer(server, f"anon={ANON}")
    await say(socket, True)
    await asyncio.sleep(GRACE * 2)
    result = figures(fast, event)
    assert (result.now, result.peak, result.unique) == (1, 1, 1)
    assert _rows(fast) == 1
    await socket.close()


async def test_bad_tickets_and_ids_are_refused_with_a_reason(server: LiveServer, seeded: Seeded) -> None:
    """Each refusal is an error message, then a close whose code and reason say why."""
    assert await refusal(server, "ticket=NOT-A-TICKET") == ("invalid", 4403, "invalid")
    assert await refusal(server, f"ticket={tickets.new_code('sympo')}") == ("unknown", 4403, "unknown")
    assert await refusal(server, f"ticket={tickets.new_code('other')}") == ("wrong_event", 4403, "wrong_event")
    assert await refusal(server, f"ticket={seeded.revoked}") == ("revoked", 4403, "revoked")
    assert await refusal(server, "anon=%3Cscript%3E") == ("invalid", 4403, "invalid")
    assert await refusal(server, "") == ("no_viewer", 4403, "no_viewer")
    assert await refusal(server, f"anon={ANON}", slug="nosuch") == ("event_not_found", 4404, "event_not_found")


async def test_junk_messages_are_answered_and_never_crash(
    server: LiveServer, fast: Settings, event: Event, seeded: Seeded
) -> None:
    """Binary frames, bad JSON, wrong shapes and oversized text each get `bad_message`; the socket lives on."""
    socket, _hello = await open_viewer(server, f"ticket={seeded.codes[0]}")
    junk: list[str | bytes] = [
        b"\x00\xff",
        "{not json",
        "[1, 2]",
        '{"type": "state"}',
        '{"type": "state", "watching": "yes"}',
        '{"type": "shout", "watching": true}',
        json.dumps({"type": "state", "watching": True, "pad": "x" * 600}),
    ]
    for message in junk:
        await socket.send(message)
        assert json.loads(await socket.recv()) == {"type": "error", "error": "bad_message"}
    assert await say(socket, True) == {"type": "ack", "watching": True}
    assert (await settle(fast, event, lambda f: f.now == 1)).now == 1
    await socket.close()
    assert httpx.get(f"{server.url}/healthz").status_code == 200


async def test_message_flood_is_closed(server: LiveServer, seeded: Seeded) -> None:
    """A connection sending far more than a page ever does is closed as rate limited."""
    socket, _hello = await open_viewer(server, f"ticket={seeded.codes[0]}")
    with pytest.raises(websockets.ConnectionClosed):
        for _ in range(100):
            await socket.send('{"type": "state", "watching": true}')
        while True:
            await socket.recv()
    assert (socket.close_code, socket.close_reason) == (4408, "rate_limited")


async def test_connections_per_viewer_are_capped(server: LiveServer, seeded: Seeded) -> None:
    """A ninth simultaneous connection of one ticket is refused; the first eight stay."""
    tabs = [await open_viewer(server, f"ticket={seeded.codes[0]}") for _ in range(8)]
    assert await refusal(server, f"ticket={seeded.codes[0]}") == ("too_many_connections", 4429, "too_many_connections")
    assert await say(tabs[0][0], True) == {"type": "ack", "watching": True}
    for socket, _hello in tabs:
        await socket.close()


async def test_restart_closes_open_viewings_and_keeps_the_peak(fast: Settings, event: Event, seeded: Seeded) -> None:
    """Viewings open when the server stops are closed at their last sign of life by the next start."""
    with run_server(fast) as first:
        sockets = [(await open_viewer(first, f"ticket={code}"))[0] for code in seeded.codes]
        for socket in sockets:
            await say(socket, True)
        await settle(fast, event, lambda f: f.now == 2)
    assert figures(fast, event).now == 2  # a clean stop leaves them open for a returning viewer
    await asyncio.sleep(GRACE * 1.5)
    with run_server(fast):
        result = figures(fast, event)
    assert (result.now, result.peak, result.unique) == (0, 2, 2)


def _rows(settings: Settings) -> int:
    with opened(settings) as database:
        return int(
            database.read_sync(lambda conn: conn.execute("SELECT COUNT(*) FROM viewing_intervals").fetchone()[0])
        )


def test_personal_page_plays_the_event_and_is_private(client: TestClient, settings: Settings, event: Event) -> None:
    """The personal link opens the watch page: noindex, private cache, the ticket for the socket."""
    code = seed_viewers(settings, event, 1).codes[0]
    response = client.get(f"/w/{code}")
    assert response.status_code == 200
    assert response.headers["cache-control"].startswith("private")
    assert response.headers["x-robots-tag"] == "noindex"
    assert 'name="robots" content="noindex' in response.text
    assert f'data-ticket="{code}"' in response.text
    assert "オンライン視聴" in response.text
    assert "Watching online" in client.get(f"/w/{code}?lang=en").text


def test_personal_page_refuses_unknown_and_revoked_links(client: TestClient, settings: Settings, event: Event) -> None:
    """An unknown link is 404 and a revoked one 410, each with its reason."""
    revoked = seed_viewers(settings, event, 1).revoked
    unknown = client.get(f"/w/{tickets.new_code('sympo')}")
    assert (unknown.status_code, 'data-reason="unknown"' in unknown.text) == (404, True)
    gone = client.get(f"/w/{revoked}")
    assert (gone.status_code, 'data-reason="revoked"' in gone.text) == (410, True)


def test_anonymous_page_only_where_the_event_allows_it(client: TestClient, settings: Settings) -> None:
    """The open watch page exists for an event with anonymous viewing, and only for it."""
    page = client.get("/e/sympo/watch")
    assert page.status_code == 200
    assert "data-ticket" not in page.text
    assert client.get("/e/nosuch/watch").status_code == 404


def test_anonymous_page_is_missing_for_a_closed_event(settings: Settings) -> None:
    """An event without anonymous viewing has no open watch page."""
    seed_event(settings, replace(EVENT, slug="closed", anonymous_watch=False))
    with TestClient(create_app(settings)) as client:
        page = client.get("/e/closed/watch")
    assert (page.status_code, 'data-reason="anonymous_not_allowed"' in page.text) == (404, True)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("", ("none", "")),
        ("https://cdn.example.jp/live/index.m3u8?t=1", ("hls", "https://cdn.example.jp/live/index.m3u8?t=1")),
        ("http://127.0.0.1:9/clip.WEBM", ("video", "http://127.0.0.1:9/clip.WEBM")),
        ("https://www.youtube.com/watch?v=abcDEF12345", ("embed", "https://www.youtube.com/embed/abcDEF12345")),
        ("https://youtu.be/abcDEF12345", ("embed", "https://www.youtube.com/embed/abcDEF12345")),
        ("https://www.youtube.com/live/abcDEF12345?si=x", ("embed", "https://www.youtube.com/embed/abcDEF12345")),
        ("https://player.vimeo.com/video/1", ("embed", "https://player.vimeo.com/video/1")),
    ],
)
def test_stream_url_decides_how_it_is_played(url: str, expected: tuple[str, str]) -> None:
    """HLS playlists, video files, embeds (YouTube links made embeddable) and no stream at all."""
    assert stream_of(url) == expected


def test_websocket_log_lines_never_carry_the_ticket() -> None:
    """uvicorn's "WebSocket PATH?QUERY [accepted]" line is logged without its query string (a credential)."""
    record = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:50000", "/ws/events/sympo/watch?ticket=CK1-XXXX-SECRET"),
        None,
    )
    assert REDACT_QUERY_STRINGS.filter(record)
    assert record.getMessage() == '127.0.0.1:50000 - "WebSocket /ws/events/sympo/watch" [accepted]'


def test_a_viewer_lost_while_greeted_is_not_left_connected(client: TestClient, event: Event) -> None:
    """A connection that fails while its hello is sent leaves presence at once."""
    sent: list[str] = []

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        sent.append(message["type"])
        if message["type"] == "websocket.send":
            raise OSError("the peer has gone")

    scope = {"type": "websocket", "app": client.app, "query_string": f"anon={ANON}".encode()}
    assert client.portal is not None
    client.portal.call(watch_socket, scope, receive, send, event.slug)
    assert sent == ["websocket.accept", "websocket.send"]
    assert client.app.state.services.watching.presence.connections() == 0  # type: ignore[attr-defined]

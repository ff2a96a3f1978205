"""Clients that hold connections open on purpose: a deadline for request headers, caps per client address."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import replace

import httpx
import pytest
import websockets

from checkin.models import Event
from checkin.server.connections import ConnectionRate
from checkin.settings import Settings
from tests.utils import LiveServer, run_server

PARTIAL = b"GET /healthz HTTP/1.1\r\nHost: test\r\nX-Slow: "


@asynccontextmanager
async def half_open(server: LiveServer, count: int) -> AsyncIterator[list[asyncio.StreamReader]]:
    """`count` connections that have sent part of a request's headers and then wait; closed at the end."""
    opened = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(count)]
    for _, writer in opened:
        writer.write(PARTIAL)
    try:
        yield [reader for reader, _ in opened]
    finally:
        for _, writer in opened:
            writer.close()


async def dropped(reader: asyncio.StreamReader) -> bool:
    """Whether the server closes this connection (reading it to the end; a reset counts as closed)."""
    with suppress(ConnectionResetError):
        await asyncio.wait_for(reader.read(), 10)
    return True


async def healthz(server: LiveServer) -> int:
    async with httpx.AsyncClient(base_url=server.url) as client:
        return (await client.get("/healthz")).status_code


async def test_headers_not_complete_in_time_are_dropped_while_others_are_served(
    settings: Settings, event: Event
) -> None:
    """Connections trickling a request are closed after the header deadline; meanwhile others are answered."""
    with run_server(replace(settings, header_timeout=0.5)) as server:
        async with half_open(server, 50) as readers:
            assert await healthz(server) == 200
            assert all(await asyncio.gather(*(dropped(reader) for reader in readers)))


async def test_the_deadline_starts_again_after_each_response(settings: Settings, event: Event) -> None:
    """A kept-alive connection that answered one request gets the same deadline for the next one's headers."""
    with run_server(replace(settings, header_timeout=0.5)) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
        writer.write(PARTIAL)
        assert await dropped(reader)
        writer.close()


async def test_connections_past_the_cap_of_an_address_are_refused(settings: Settings, event: Event) -> None:
    """One address holding its fill of connections is answered 429 for the next; once they close, served again."""
    with run_server(replace(settings, max_connections_per_address=5)) as server:
        async with half_open(server, 5):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            answer = await asyncio.wait_for(reader.read(), 5)
            writer.close()
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 429") and json.loads(body)["error"] == "too_many_connections"
        for _ in range(100):  # the server notices the closed connections on its own time
            if await healthz(server) == 200:
                break
            await asyncio.sleep(0.05)
        assert await healthz(server) == 200


@pytest.mark.parametrize("lifted", [{"rate_limits": False}, {"trusted_proxies": ("127.0.0.1",)}])
async def test_the_cap_is_lifted_by_the_switch_and_for_trusted_proxies(
    settings: Settings, event: Event, lifted: dict[str, object]
) -> None:
    """CHECKIN_RATE_LIMITS=off lifts the cap; a trusted proxy's connections are not counted by peer."""
    with run_server(replace(settings, max_connections_per_address=5, **lifted)) as server:  # type: ignore[arg-type]
        async with half_open(server, 10):
            assert await healthz(server) == 200


async def test_websockets_are_capped_by_the_forwarded_address(settings: Settings, event: Event) -> None:
    """Behind a trusted proxy, each client address may hold its cap of sockets; the next gets 4429."""
    capped = replace(settings, trusted_proxies=("127.0.0.1",), max_connections_per_address=2)
    with run_server(capped) as server:

        async def viewer(number: int, address: str) -> websockets.ClientConnection:
            url = f"{server.ws_url}/ws/events/sympo/watch?anon=viewer-{number:016d}"
            return await websockets.connect(url, additional_headers={"X-Forwarded-For": address})

        held = [await viewer(number, "203.0.113.7") for number in range(2)]
        assert [json.loads(await socket.recv())["type"] for socket in held] == ["hello", "hello"]
        refused = await viewer(2, "203.0.113.7")
        assert json.loads(await refused.recv()) == {"type": "error", "error": "too_many_connections"}
        with pytest.raises(websockets.ConnectionClosed):
            await refused.recv()
        assert refused.close_code == 4429
        other = await viewer(3, "203.0.113.8")
        assert json.loads(await other.recv())["type"] == "hello"
        for socket in [*held, other]:
            await socket.close()


def test_settings_read_the_connection_limits() -> None:
    """The header deadline and the per-address caps come from the environment, with their defaults."""
    assert (Settings().header_timeout, Settings().max_connections_per_address) == (10.0, 256)
    assert Settings().max_anonymous_per_address == 50
    env = {
        "CHECKIN_HEADER_TIMEOUT": "3",
        "CHECKIN_MAX_CONNECTIONS_PER_ADDRESS": "1000",
        "CHECKIN_MAX_ANONYMOUS_PER_ADDRESS": "5",
    }
    read = Settings.from_env(env)
    assert (read.header_timeout, read.max_connections_per_address, read.max_anonymous_per_address) == (3.0, 1000, 5)


def test_new_connections_of_an_address_refill_at_the_rate() -> None:
    """A burst of ten seconds' worth, then one per 1/rate seconds; another address has its own bucket."""
    rate = ConnectionRate(2.0)
    assert all(rate.allow("192.0.2.1", 100.0) for _ in range(20))
    assert not rate.allow("192.0.2.1", 100.0)
    assert rate.allow("192.0.2.2", 100.0)
    assert rate.allow("192.0.2.1", 100.5) and not rate.allow("192.0.2.1", 100.5)
    assert all(ConnectionRate(None).allow("192.0.2.1", 0.0) for _ in range(1000))


async def test_an_address_reconnecting_in_a_loop_is_turned_away_while_others_are_served(
    settings: Settings, event: Event
) -> None:
    """Past its burst of new connections, 127.0.0.2 gets 429 at once; 127.0.0.1 is answered meanwhile."""
    with run_server(replace(settings, new_connections_per_second=5.0)) as server:
        answers = []
        for _ in range(80):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port, local_addr=("127.0.0.2", 0))
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
            try:
                answers.append((await asyncio.wait_for(reader.read(), 5)).split(b" ", 2)[1])
            except ConnectionResetError:  # refused before the request was read: the 429 may be lost to a reset
                answers.append(b"429")
            writer.close()
        assert answers[:50] == [b"200"] * 50  # the burst: ten seconds' worth
        assert answers.count(b"429") >= 20
        assert await healthz(server) == 200

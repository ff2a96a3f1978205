"""Hostile websocket peers against the real server: floods of frames are cut short, the door keeps answering."""

from __future__ import annotations

import asyncio
import base64
import os

import httpx
import pytest

from checkin.server.wsframes import TALLY, parse_close
from tests.utils import LiveServer

# A text frame that starts a message (fin clear, masked, one byte), then empty masked continuations.
FLOOD_START = bytes.fromhex("0181000000006" + "1")
EMPTY_CONTINUATION = bytes.fromhex("008000000000")
FLOOD = FLOOD_START + EMPTY_CONTINUATION * 20_000
# Frames a refused or flooding socket may have parsed in all: a small budget, nowhere near the flood.
PARSED_AT_MOST = 200


def handshake(path: str) -> bytes:
    key = base64.b64encode(os.urandom(16))
    return (
        b"GET " + path.encode() + b" HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )


async def flood(server: LiveServer, path: str) -> bytes:
    """Open a socket, send the flood once it is upgraded; everything the server sent until it closed."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(handshake(path))
    received = await reader.readuntil(b"\r\n\r\n")
    writer.write(FLOOD)
    try:
        await writer.drain()
        while chunk := await asyncio.wait_for(reader.read(65536), 10):
            received += chunk
    except (ConnectionResetError, BrokenPipeError):
        pass  # closed with the rest of the flood unread: the kernel resets the connection
    writer.close()
    return received


def close_code(received: bytes) -> int | None:
    """The code of the first close frame in what the server sent after its 101 answer."""
    data = received.partition(b"\r\n\r\n")[2]
    while len(data) >= 2:
        opcode, size = data[0] & 0x0F, data[1] & 0x7F
        if opcode == 0x8:
            return parse_close(data[2 : 2 + size])[0]
        data = data[2 + size :]
    return None


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/ws/events/no-such-event/watch?anon=" + "a" * 20, 4404),
        ("/ws/events/sympo/watch", 4403),
        ("/ws/events/sympo/dashboard", 4401),
    ],
)
async def test_a_refused_socket_is_closed_without_parsing_its_flood(live: LiveServer, path: str, code: int) -> None:
    """A socket refused for its event or credential is closed with its code; the flood behind it is not parsed."""
    before = TALLY.frames
    async with httpx.AsyncClient(base_url=live.url) as client:
        sockets = [asyncio.ensure_future(flood(live, path)) for _ in range(3)]
        health = await client.get("/healthz")
        received = await asyncio.gather(*sockets)
    assert health.status_code == 200
    assert [close_code(answer) for answer in received] == [code] * 3
    assert TALLY.frames - before <= 3 * PARSED_AT_MOST

"""A lean websocket viewer for load tests: a raw asyncio protocol speaking just enough RFC 6455.

A full client library costs about as much CPU per handshake as the server it measures, and on a
2-core machine that turns a join storm into a measure of the clients. This one sends a browser-like
handshake, answers `hello` with one state message, waits for the `ack`, answers the server's pings
with pongs, and closes with 1000 when asked to leave. `Watcher` wraps it into a viewer that reconnects
the way the watch page does.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import time
from collections.abc import Callable
from ssl import SSLContext

# What a browser sends with its handshake (the server keeps the request for the connection's life).
BROWSER_HEADERS = (
    "Origin: https://checkin.example.jp\r\n"
    "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/142.0 Safari/537.36\r\n"
    "Accept-Language: ja,en-US;q=0.9,en;q=0.8\r\n"
    "Cache-Control: no-cache\r\n"
    "Pragma: no-cache\r\n"
    "Cookie: lang=ja\r\n"
)
TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA
FIRST_DELAY, MAX_DELAY = 1.0, 30.0  # the watch page's reconnect backoff, in seconds


def handshake(host: str, path: str) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode("ascii")
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{BROWSER_HEADERS}\r\n"
    ).encode("ascii")


def frame(opcode: int, payload: bytes) -> bytes:
    """One masked client frame (payloads here are always under 64 KiB)."""
    mask = os.urandom(4)
    size = len(payload)
    length = bytes([0x80 | size]) if size < 126 else bytes([0x80 | 126]) + size.to_bytes(2, "big")
    return bytes([0x80 | opcode]) + length + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class Viewer(asyncio.Protocol):
    """One viewer's connection: `joined` resolves once the state is acknowledged; `closed` when it ends."""

    def __init__(self, request: bytes, state: dict[str, object]) -> None:
        loop = asyncio.get_running_loop()
        self.request = request
        self.state = json.dumps(state).encode()
        self.joined: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.buffer = bytearray()
        self.upgraded = False
        self.texts = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.upgraded and not self._upgrade():
            return
        while (parsed := self._next_frame()) is not None:
            self._on_frame(*parsed)

    def _upgrade(self) -> bool:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        status = bytes(self.buffer[:end]).split(b"\r\n", 1)[0]
        del self.buffer[: end + 4]
        if b" 101 " not in status:
            self._fail(f"handshake refused: {status.decode(errors='replace')}")
            return False
        self.upgraded = True
        return True

    def _next_frame(self) -> tuple[int, bytes] | None:
        if len(self.buffer) < 2:
            return None
        opcode, length, offset = self.buffer[0] & 0x0F, self.buffer[1] & 0x7F, 2
        if length == 126:
            if len(self.buffer) < 4:
                return None
            length, offset = int.from_bytes(self.buffer[2:4], "big"), 4
        if len(self.buffer) < offset + length:
            return None
        payload = bytes(self.buffer[offset : offset + length])
        del self.buffer[: offset + length]
        return opcode, payload

    def _on_frame(self, opcode: int, payload: bytes) -> None:
        assert self.transport is not None
        if opcode == TEXT:
            self.texts += 1
            message = json.loads(payload)
            if self.texts == 1 and message.get("type") == "hello":
                self.transport.write(frame(TEXT, self.state))
            elif self.texts == 2 and message.get("type") == "ack" and not self.joined.done():
                self.joined.set_result(None)
            else:
                self._fail(f"unexpected message: {message}")
        elif opcode == PING:
            self.transport.write(frame(PONG, payload))
        elif opcode == CLOSE:
            self.transport.close()

    def _fail(self, reason: str) -> None:
        if not self.joined.done():
            self.joined.set_exception(ConnectionError(reason))
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.joined.done():
            self.joined.set_exception(ConnectionError("closed before joining"))
        if not self.closed.done():
            self.closed.set_result(None)

    async def leave(self, timeout: float = 10.0) -> None:
        """Close with 1000 (a tab closed) and wait for the server to finish the closing handshake."""
        if self.transport is not None and not self.closed.done():
            self.transport.write(frame(CLOSE, (1000).to_bytes(2, "big")))
            try:
                await asyncio.wait_for(asyncio.shield(self.closed), timeout)
            except TimeoutError:
                self.transport.abort()


class Watcher:
    """A viewer that comes back when its socket closes, as the watch page does (`static/common/socket.js`):
    after a full-jitter wait (uniform up to 1 s, doubling per failed attempt, at most 30 s), plus `hold()`
    seconds that a benchmark may set to keep the viewers of a killed server away for a while.

    Each connection binds to `local` (an address of 127.0.0.0/8), so many watchers spread over many source
    addresses and no address runs out of ephemeral ports.
    """

    def __init__(
        self,
        target: tuple[str, int],
        path: str,
        local: str,
        state: dict[str, object],
        hold: Callable[[], float] = lambda: 0.0,
        ssl: SSLContext | None = None,
    ) -> None:
        self.target = target
        self.path = path
        self.local = local
        self.state = state
        self.hold = hold
        self.ssl = ssl
        self.viewer: Viewer | None = None
        self.leaving = False
        self.failures: list[str] = []  # why each attempt that did not join failed
        self.joins: list[float] = []  # wall-clock times each join was acknowledged
        self.drops: list[float] = []  # wall-clock times a joined socket was closed by the other side

    async def connect(self, timeout: float) -> None:
        """One attempt: connect, handshake, say we watch, wait for the `ack`."""
        host, port = self.target
        netloc = host if port in (80, 443) else f"{host}:{port}"
        viewer = Viewer(handshake(netloc, self.path), self.state)
        self.viewer = viewer
        loop = asyncio.get_running_loop()
        server_hostname = host if self.ssl is not None else None
        await asyncio.wait_for(
            loop.create_connection(
                lambda: viewer, host, port, local_addr=(self.local, 0), ssl=self.ssl, server_hostname=server_hostname
            ),
            timeout,
        )
        await asyncio.wait_for(viewer.joined, timeout)
        self.joins.append(time.time())

    async def run(self, start_at: float, timeout: float = 60.0) -> None:
        """Join at `start_at` (wall clock), then stay: come back after every close until `leave`."""
        await asyncio.sleep(max(0.0, start_at - time.time()))
        attempts = 0
        while not self.leaving:
            try:
                await self.connect(timeout)
            except (OSError, ConnectionError, TimeoutError) as exc:
                self.failures.append(type(exc).__name__ if not str(exc) else str(exc)[:60])
                attempts += 1
                await asyncio.sleep(random.random() * min(MAX_DELAY, FIRST_DELAY * 2**attempts))
                continue
            attempts = 0
            assert self.viewer is not None
            await asyncio.shield(self.viewer.closed)
            if self.leaving:
                return
            self.drops.append(time.time())
            await asyncio.sleep(self.hold() + random.random() * FIRST_DELAY)

    async def leave(self) -> None:
        """Close for good (a tab closed), without coming back."""
        self.leaving = True
        if self.viewer is not None and self.viewer.joined.done() and not self.viewer.joined.exception():
            await self.viewer.leave()

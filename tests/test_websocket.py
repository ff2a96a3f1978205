"""The websocket protocol `checkin serve` gives uvicorn, end to end: a real server, real clients."""

from __future__ import annotations

import asyncio
import base64
import os
import socket as net
import struct
import time
from collections.abc import Iterator
from typing import Any

import pytest
import websockets
from starlette.types import Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.server import ServerState
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from checkin.server import timers as server_timers
from checkin.server.websocket import FRAMES_AFTER_CLOSE, FRAMES_PER_TURN, MAX_FRAGMENTS, WebSocketProtocol
from checkin.server.wsframes import TALLY, frame, parse_close
from tests.utils import LiveServer, serve

PING_INTERVAL, PING_TIMEOUT, MAX_SIZE = 0.2, 1.0, 1024
LONG_REASON = "理由" * 50  # 300 bytes of UTF-8


class EchoApp:
    """A raw ASGI app: `/echo` answers each message with itself; other paths refuse, fail or close."""

    def __init__(self) -> None:
        self.scopes: list[Scope] = []
        self.disconnects: list[dict[str, Any]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "websocket"
        self.scopes.append(scope)
        assert (await receive())["type"] == "websocket.connect"
        path = scope["path"]
        if path == "/refuse":
            await send({"type": "websocket.close", "code": 1000})
            return
        if path == "/crash":
            raise RuntimeError("the application fails before accepting")
        if path == "/silent":
            return
        subprotocol = scope["subprotocols"][0] if scope["subprotocols"] else None
        await send({"type": "websocket.accept", "subprotocol": subprotocol, "headers": [(b"x-served-by", b"test")]})
        if path == "/close":
            await send({"type": "websocket.close", "code": 4403, "reason": "revoked"})
        if path == "/close-long":
            await send({"type": "websocket.close", "code": 4400, "reason": LONG_REASON})
        if path == "/crash-open":
            raise RuntimeError("the application fails while open")
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                self.disconnects.append(dict(message))
                return
            await send({**message, "type": "websocket.send"})

    async def disconnect(self) -> dict[str, Any]:
        """The disconnect event of the next socket to end (polled: the server runs in another thread)."""
        deadline = time.monotonic() + 5
        while not self.disconnects and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return self.disconnects.pop(0)


@pytest.fixture
def app() -> EchoApp:
    return EchoApp()


@pytest.fixture(params=["loop timers", "bucketed timers"])
def live(app: EchoApp, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    """The echo server; its pings and deadlines on the loop's own timers, or in buckets (`checkin.server.timers`,
    as a server's seconds-long ones are) with a grain fine enough for these tests' short intervals."""
    if request.param == "bucketed timers":
        monkeypatch.setattr(server_timers, "RESOLUTION", 0.01)
    options: dict[str, Any] = {"ws": WebSocketProtocol, "ws_max_size": MAX_SIZE, "lifespan": "off"}
    with serve(app, ws_ping_interval=PING_INTERVAL, ws_ping_timeout=PING_TIMEOUT, **options) as server:
        yield server


class RawClient:
    """A websocket client that sends exactly the bytes it is told to (broken frames included)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, status: int) -> None:
        self.reader, self.writer, self.status = reader, writer, status

    @classmethod
    async def open(cls, server: LiveServer, path: str = "/echo", key: bytes | None = None) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        key = base64.b64encode(os.urandom(16)) if key is None else key
        writer.write(
            b"GET " + path.encode() + b" HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        return cls(reader, writer, int((await reader.readuntil(b"\r\n\r\n")).split(b" ", 2)[1]))

    def send(self, opcode: int, payload: bytes, fin: bool = True, masked: bool = True, rsv: int = 0) -> None:
        mask = os.urandom(4) if masked else b""
        size = len(payload)
        length = bytes([size]) if size < 126 else bytes([126]) + struct.pack("!H", size)
        length = bytes([length[0] | (0x80 if masked else 0)]) + length[1:]
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if masked else payload
        self.writer.write(bytes([(0x80 if fin else 0) | rsv | opcode]) + length + mask + body)

    async def receive(self) -> tuple[int, bytes]:
        """The next frame from the server: (opcode, payload)."""
        head = await asyncio.wait_for(self.reader.readexactly(2), 5)
        size = head[1] & 0x7F
        if size == 126:
            size = struct.unpack("!H", await self.reader.readexactly(2))[0]
        return head[0] & 0x0F, await self.reader.readexactly(size)

    async def receive_data(self) -> tuple[int, bytes]:
        """The next data frame from the server, pings and pongs skipped (the live server pings every 0.2 s)."""
        while (frame := await self.receive())[0] in {0x9, 0xA}:
            pass
        return frame

    async def close_code(self) -> int:
        """The code of the server's close frame (pings before it are skipped)."""
        while True:
            opcode, payload = await self.receive()
            if opcode == 0x8:
                return parse_close(payload)[0]

    async def closed(self) -> bool:
        """Whether the server has closed the TCP connection."""
        return await asyncio.wait_for(self.reader.read(), 5) == b""


async def test_messages_go_both_ways_and_the_scope_is_asgi(live: LiveServer, app: EchoApp) -> None:
    """Text and bytes are echoed; the scope has the path, query, lowercased headers and subprotocols."""
    async with connect(f"{live.ws_url}/echo?ticket=T", subprotocols=["watch"]) as socket:  # type: ignore[list-item]
        await socket.send("こんにちは")
        assert await socket.recv() == "こんにちは"
        await socket.send(b"\x00\x01")
        assert await socket.recv() == b"\x00\x01"
        assert socket.subprotocol == "watch"
        assert socket.response is not None and socket.response.headers["x-served-by"] == "test"
    scope = app.scopes[0]
    assert (scope["path"], scope["query_string"], scope["subprotocols"]) == ("/echo", b"ticket=T", ["watch"])
    assert (b"host", f"127.0.0.1:{live.port}".encode()) in scope["headers"]
    assert (await app.disconnect())["code"] == 1000


async def test_fragmented_messages_are_put_together(live: LiveServer) -> None:
    """A message sent in several frames reaches the application whole."""
    async with connect(f"{live.ws_url}/echo") as socket:
        await socket.send(["frag", "ment", "ed"])
        assert await socket.recv() == "fragmented"


async def test_client_pings_are_answered(live: LiveServer) -> None:
    """A ping from the peer gets its pong."""
    async with connect(f"{live.ws_url}/echo", ping_interval=None) as socket:
        await asyncio.wait_for(await socket.ping(b"are you there"), 5)


async def test_a_peer_answering_pings_stays(live: LiveServer) -> None:
    """Keepalive pings that are answered keep the connection open, through a dozen pings and two timeouts."""
    async with connect(f"{live.ws_url}/echo", ping_interval=None) as socket:
        await asyncio.sleep(2.5 * PING_TIMEOUT)
        await socket.send("still here")
        assert await socket.recv() == "still here"


async def test_a_dead_peer_is_closed_by_the_ping_timeout(live: LiveServer, app: EchoApp) -> None:
    """A peer that never answers pings is closed with 1011, and the application is told."""
    client = await RawClient.open(live)
    opcode, _ = await client.receive()
    assert opcode == 0x9
    assert await client.close_code() == 1011
    assert await client.closed()
    assert (await app.disconnect())["code"] == 1011


async def test_unsolicited_pongs_are_ignored(live: LiveServer) -> None:
    """A pong that answers no ping of ours changes nothing."""
    client = await RawClient.open(live)
    client.send(0xA, b"unsolicited")
    client.send(0x1, b"still open")
    assert await client.receive() == (0x1, b"still open")


async def test_without_a_ping_timeout_pings_go_on_unanswered(app: EchoApp) -> None:
    """With no ping timeout, pings keep coming whether or not they are answered."""
    with serve(app, ws=WebSocketProtocol, lifespan="off", ws_ping_interval=0.05, ws_ping_timeout=None) as live:
        client = await RawClient.open(live)
        first, second = await client.receive(), await client.receive()
        assert first[0] == second[0] == 0x9 and first[1] != second[1]
        client.send(0xA, second[1])
        client.send(0x1, b"still open")
        while (received := await client.receive())[0] == 0x9:
            pass
        assert received == (0x1, b"still open")


async def test_after_the_application_closes_only_a_few_frames_are_read(live: LiveServer) -> None:
    """Once closed by the application, a peer that floods instead of answering is cut off after a few frames."""
    client = await RawClient.open(live, "/close")
    assert await client.close_code() == 4403
    before = TALLY.frames
    client.writer.write(client_frame(0x1, b"more") * 1000)
    assert await client.closed()
    assert TALLY.frames - before <= FRAMES_AFTER_CLOSE + 1


async def test_after_the_application_closes_only_the_peers_close_counts(live: LiveServer) -> None:
    """Messages (and pings) arriving after the application's close go unanswered; the peer's close ends it."""
    client = await RawClient.open(live, "/close")
    assert await client.close_code() == 4403
    client.send(0x9, b"ping")
    client.send(0x1, b"too late")
    client.send(0x8, struct.pack("!H", 4403))
    assert await client.closed()


async def test_oversize_messages_close_with_1009(live: LiveServer, app: EchoApp) -> None:
    """A message over the size limit, in one frame or several, closes the connection with 1009."""
    async with connect(f"{live.ws_url}/echo", max_size=None) as socket:
        await socket.send("x" * (MAX_SIZE + 1))
        with pytest.raises(websockets.ConnectionClosedError):
            await socket.recv()
        assert socket.close_code == 1009
    async with connect(f"{live.ws_url}/echo", max_size=None) as socket:
        await socket.send(["x" * (MAX_SIZE // 2)] * 3)
        with pytest.raises(websockets.ConnectionClosedError):
            await socket.recv()
        assert socket.close_code == 1009
    assert (await app.disconnect())["code"] == 1009


async def test_a_flood_of_empty_fragments_is_cut_off(live: LiveServer, app: EchoApp) -> None:
    """Twenty thousand empty continuation frames: the message is refused with 1009 after a few, the rest unread."""
    client = await RawClient.open(live)
    before = TALLY.frames
    client.writer.write(bytes.fromhex("018100000000" + "61") + bytes.fromhex("008000000000") * 20_000)
    assert await client.close_code() == 1009
    assert (await app.disconnect())["code"] == 1009
    assert TALLY.frames - before <= MAX_FRAGMENTS + FRAMES_PER_TURN


async def test_a_long_close_reason_is_cut_to_fit_the_frame(live: LiveServer) -> None:
    """RFC 6455 allows 123 bytes of close reason: a longer one is cut, on a character boundary."""
    async with connect(f"{live.ws_url}/close-long") as socket:
        with pytest.raises(websockets.ConnectionClosed):
            await socket.recv()
        assert socket.close_code == 4400
        assert socket.close_reason == LONG_REASON[:41] and len(socket.close_reason.encode()) == 123


async def test_pings_from_a_peer_that_does_not_read_drop_it(live: LiveServer, app: EchoApp) -> None:
    """A peer sending pings without reading the pongs is dropped once the pongs back up, not buffered for."""
    sock = net.socket()
    sock.setsockopt(net.SOL_SOCKET, net.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", live.port))
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(HANDSHAKE)
    await reader.readuntil(b"\r\n\r\n")
    pings = client_frame(0x9, b"p" * 125) * 500  # 65 KB of pings a write; 40 MB in all at most
    with pytest.raises((ConnectionResetError, BrokenPipeError)):
        for _ in range(600):
            writer.write(pings)
            await writer.drain()
    assert (await app.disconnect())["code"] == 1006
    writer.close()


async def test_close_codes_and_reasons_go_both_ways(live: LiveServer, app: EchoApp) -> None:
    """The application's close code and reason reach the peer; the peer's reach the application."""
    async with connect(f"{live.ws_url}/close") as socket:
        with pytest.raises(websockets.ConnectionClosed):
            await socket.recv()
        assert (socket.close_code, socket.close_reason) == (4403, "revoked")
    assert (await app.disconnect())["code"] == 4403  # the application's receive after its close
    async with connect(f"{live.ws_url}/echo") as socket:
        await socket.close(1001, "tab closed")
    assert await app.disconnect() == {"type": "websocket.disconnect", "code": 1001, "reason": "tab closed"}


async def test_the_application_refusing_before_accept_is_a_403(live: LiveServer) -> None:
    """Closing before accepting answers the handshake with HTTP 403."""
    with pytest.raises(InvalidStatus) as refused:
        await connect(f"{live.ws_url}/refuse")
    assert refused.value.response.status_code == 403


@pytest.mark.parametrize("path", ["/crash", "/silent"])
async def test_an_application_that_never_accepts_is_a_500(live: LiveServer, path: str) -> None:
    """Failing, or returning, without accepting answers the handshake with HTTP 500."""
    with pytest.raises(InvalidStatus) as refused:
        await connect(f"{live.ws_url}{path}")
    assert refused.value.response.status_code == 500


async def test_an_application_failing_while_open_drops_the_connection(live: LiveServer) -> None:
    """A failure after accepting closes the connection without a close frame."""
    async with connect(f"{live.ws_url}/crash-open") as socket:
        with pytest.raises(websockets.ConnectionClosedError):
            await socket.recv()
        assert socket.close_code == 1006


async def test_a_bad_handshake_is_a_400(live: LiveServer) -> None:
    """A handshake the websockets rules refuse (here a malformed key) is answered 400 without the application."""
    client = await RawClient.open(live, key=b"not-a-key")
    assert client.status == 400
    assert b"Failed to open a WebSocket connection" in await asyncio.wait_for(client.reader.read(), 5)


@pytest.mark.parametrize(
    ("frames", "code"),
    [
        ([(0x1, b"hi", True, False, 0)], 1002),  # not masked
        ([(0x1, b"hi", True, True, 0x40)], 1002),  # a reserved bit, with no extension negotiated
        ([(0x3, b"hi", True, True, 0)], 1002),  # a reserved opcode
        ([(0x9, b"x" * 126, True, True, 0)], 1002),  # a control frame over 125 bytes
        ([(0x9, b"", False, True, 0)], 1002),  # a fragmented control frame
        ([(0x0, b"hi", True, True, 0)], 1002),  # a continuation with nothing to continue
        ([(0x1, b"a", False, True, 0), (0x1, b"b", True, True, 0)], 1002),  # a new message inside one
        ([(0x1, b"\xff\xfe", True, True, 0)], 1007),  # text that is not UTF-8
        ([(0x8, b"\x03", True, True, 0)], 1002),  # a close frame with half a code
        ([(0x8, struct.pack("!H", 1005), True, True, 0)], 1002),  # a close code never sent on the wire
        ([(0x8, struct.pack("!H", 1000) + b"\xff", True, True, 0)], 1007),  # a close reason that is not UTF-8
    ],
)
async def test_protocol_errors_fail_the_connection(
    live: LiveServer, app: EchoApp, frames: list[tuple[int, bytes, bool, bool, int]], code: int
) -> None:
    """Frames that break RFC 6455 close the connection with 1002 (or 1007 for bad UTF-8)."""
    client = await RawClient.open(live)
    for opcode, payload, fin, masked, rsv in frames:
        client.send(opcode, payload, fin=fin, masked=masked, rsv=rsv)
    assert await client.close_code() == code
    assert await client.closed()
    assert (await app.disconnect())["code"] == code


async def test_a_close_without_code_is_1005(live: LiveServer, app: EchoApp) -> None:
    """An empty close frame is answered with an empty one; the application sees 1005."""
    client = await RawClient.open(live)
    client.send(0x8, b"")
    assert await client.receive() == (0x8, b"")
    assert (await app.disconnect())["code"] == 1005


async def test_frames_split_across_reads_and_batched_in_one(live: LiveServer) -> None:
    """Frames arriving byte by byte, or several in one read, are all parsed (16-bit lengths included)."""
    client = await RawClient.open(live)
    long = "ü" * 100
    client.send(0x1, long.encode())
    assert await client.receive_data() == (0x1, long.encode())
    mask, text = os.urandom(4), b"ok" * 100
    masked = b"\x81\xfe" + struct.pack("!H", len(text)) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(text))
    for byte in masked[:12]:
        client.writer.write(bytes([byte]))
        await client.writer.drain()
        await asyncio.sleep(0.005)
    client.writer.write(masked[12:])
    assert await client.receive_data() == (0x1, text)
    client.send(0x1, b"one")
    client.send(0x1, b"two")
    assert [await client.receive_data(), await client.receive_data()] == [(0x1, b"one"), (0x1, b"two")]


async def test_shutdown_closes_open_sockets_with_1012(app: EchoApp) -> None:
    """Stopping the server tells every open socket 1012 (service restart), and the application too."""
    with serve(app, ws=WebSocketProtocol, lifespan="off", ws_ping_interval=None) as live:
        socket = await connect(f"{live.ws_url}/echo")
        live.server.should_exit = True
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(socket.recv(), 5)
        assert socket.close_code == 1012
    assert (await app.disconnect())["code"] == 1012


def test_server_frames_carry_their_length() -> None:
    """Server frames use the 7-bit, 16-bit and 64-bit length forms by size."""
    assert frame(0x1, b"a")[:2] == b"\x81\x01"
    assert frame(0x2, b"a" * 200)[:4] == b"\x82\x7e\x00\xc8"
    assert frame(0x2, b"a" * 70000)[:10] == b"\x82\x7f" + struct.pack("!Q", 70000)


class FakeTransport(asyncio.Transport):
    """Records what the protocol writes and asks of the transport."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closing = False
        self.aborted = False
        self.eof = False
        self.reading = True

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = self.aborted = True

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.eof = True

    def is_closing(self) -> bool:
        return self.closing

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(name, default)


HANDSHAKE = (
    b"GET /echo HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


def client_frame(opcode: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def connection(app: Any, **options: Any) -> tuple[WebSocketProtocol, FakeTransport, ServerState]:
    """A protocol on a fake transport that has received the handshake (the application is started)."""
    config = Config(app, ws=WebSocketProtocol, lifespan="off", ws_ping_interval=None, **options)
    config.load()
    state = ServerState()
    protocol = WebSocketProtocol(config, state, {})
    transport = FakeTransport()
    protocol.connection_made(transport)
    protocol.data_received(HANDSHAKE[:20])  # a handshake may come in pieces
    protocol.data_received(HANDSHAKE[20:])
    await asyncio.sleep(0)
    return protocol, transport, state


async def test_data_sent_before_the_accept_is_read_after_it() -> None:
    """Frames arriving while the application has not accepted yet wait, then reach it in order."""
    accepted = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await accepted.wait()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": (await receive())["text"]})

    protocol, transport, _ = await connection(app)
    protocol.data_received(client_frame(0x1, b"early"))
    accepted.set()
    for _ in range(5):
        await asyncio.sleep(0)
    assert transport.written.startswith(b"HTTP/1.1 101")
    assert transport.written.endswith(frame(0x1, b"early"))


async def test_sending_waits_while_the_transport_is_full() -> None:
    """While the transport's buffer is full, sends wait; a connection lost meanwhile ends them."""
    sent: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await receive()
        for text in ["one", "two"]:
            await send({"type": "websocket.send", "text": text})
            sent.append(text)

    protocol, _, _ = await connection(app)
    protocol.pause_writing()
    protocol.data_received(client_frame(0x1, b"go"))
    await asyncio.sleep(0.01)
    assert sent == []
    protocol.resume_writing()
    await asyncio.sleep(0.01)
    assert sent == ["one", "two"]

    protocol, transport, state = await connection(app)
    protocol.pause_writing()
    protocol.data_received(client_frame(0x1, b"go"))
    await asyncio.sleep(0.01)
    protocol.connection_lost(None)
    await asyncio.sleep(0.01)
    assert sent == ["one", "two"] and transport.closing and not state.connections


async def test_shutdown_answers_an_unfinished_handshake_with_a_500() -> None:
    """At shutdown, a handshake the application has not answered gets a 500; a closing socket just closes."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await asyncio.sleep(10)

    protocol, transport, _ = await connection(app)
    protocol.shutdown()
    assert transport.written.startswith(b"HTTP/1.1 500") and transport.closing

    async def closing_app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 1000})

    protocol, transport, _ = await connection(closing_app)
    await asyncio.sleep(0.01)
    assert not transport.closing  # waiting for the peer's answering close
    protocol.shutdown()
    assert transport.closing


async def test_a_request_that_does_not_parse_is_closed() -> None:
    """Bytes that are not an HTTP request close the connection without starting the application."""
    config = Config(EchoApp(), ws=WebSocketProtocol, lifespan="off")
    config.load()
    state = ServerState()
    protocol, transport = WebSocketProtocol(config, state, {}), FakeTransport()
    protocol.connection_made(transport)
    protocol.data_received(b"\x16\x03\x01 not http\r\n\r\n")
    assert transport.closing and not state.tasks


@pytest.mark.parametrize(
    ("messages", "error"),
    [
        ([{"type": "websocket.send", "text": "too early"}], "Expected ASGI message 'websocket.accept'"),
        ([{"type": "websocket.accept"}, {"type": "websocket.nonsense"}], "Expected ASGI message 'websocket.send'"),
        (
            [{"type": "websocket.accept"}, {"type": "websocket.close"}, {"type": "websocket.send", "text": "late"}],
            "after sending 'websocket.close'",
        ),
    ],
)
async def test_asgi_messages_out_of_order_are_errors(messages: list[dict[str, Any]], error: str) -> None:
    """ASGI messages the protocol does not expect at that point raise, naming what was expected."""
    raised: list[BaseException] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        try:
            for message in messages:
                await send(message)
        except RuntimeError as exc:
            raised.append(exc)

    await connection(app)
    await asyncio.sleep(0.01)
    assert len(raised) == 1 and error in str(raised[0])


async def test_sending_to_a_peer_that_closed_is_a_disconnect() -> None:
    """Once the peer has closed, a send raises ClientDisconnected (an OSError), which ends the application."""
    raised: list[BaseException] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await receive()
        try:
            await send({"type": "websocket.send", "bytes": b"late"})
        except OSError as exc:
            raised.append(exc)
            raise

    protocol, _, state = await connection(app)
    protocol.data_received(client_frame(0x8, struct.pack("!H", 1000)))
    await asyncio.sleep(0.01)
    assert len(raised) == 1 and not state.tasks


async def test_a_burst_of_small_frames_is_parsed_a_turn_at_a_time() -> None:
    """Frames arriving in one read are parsed FRAMES_PER_TURN per turn of the loop, reading paused between."""
    protocol, transport, _ = await connection(EchoApp())
    await asyncio.sleep(0.01)
    pong = frame(0xA, b"")
    protocol.data_received(client_frame(0x9, b"") * (3 * FRAMES_PER_TURN))
    assert transport.written.count(pong) == FRAMES_PER_TURN and not transport.reading
    for _ in range(3):
        await asyncio.sleep(0)
    assert transport.written.count(pong) == 3 * FRAMES_PER_TURN and transport.reading


async def test_frames_are_not_read_until_the_application_asks() -> None:
    """Until the application has accepted and waits for a message, frames stay unread (reading paused)."""
    checked = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await checked.wait()  # the application looks at the credential
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 4404, "reason": "event_not_found"})

    before = TALLY.frames
    protocol, transport, _ = await connection(app)
    assert not transport.reading
    protocol.data_received(client_frame(0x1, b"early"))
    assert TALLY.frames == before
    checked.set()
    await asyncio.sleep(0.01)
    assert transport.written.endswith(frame(0x8, struct.pack("!H", 4404) + b"event_not_found"))
    protocol.data_received(client_frame(0x8, struct.pack("!H", 4404)))
    assert transport.closing and TALLY.frames - before == 2  # the early message, skipped, then the answer


async def test_a_peer_that_takes_nothing_sent_is_dropped() -> None:
    """A send waiting on a full transport for a whole ping timeout drops the peer, and the send fails."""
    raised: list[BaseException] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await receive()
        try:
            await send({"type": "websocket.send", "text": "snapshot"})
        except OSError as exc:
            raised.append(exc)

    protocol, transport, _ = await connection(app, ws_ping_timeout=0.05)
    protocol.pause_writing()
    protocol.data_received(client_frame(0x1, b"go"))
    await asyncio.sleep(0.2)
    assert transport.aborted and len(raised) == 1

"""A lean websocket protocol for uvicorn: what an open connection keeps is a few hundred bytes.

uvicorn's own protocol keeps, for the whole life of every connection, the handshake request and
response, a sans-I/O connection object with its parser, and an asyncio queue and event — about
15 KiB per socket more than this one, most of the memory of a server holding thousands of idle
viewers (docs/PERFORMANCE.md). This one uses
the websockets library for the opening handshake only, then drops it: frames are parsed here (RFC
6455, server side, no extensions), received messages wait in a list with at most one future, and
the class has slots. uvicorn runs it for every websocket (`uvicorn.run(..., ws=WebSocketProtocol)`).

Kept from uvicorn: the ASGI websocket scope and messages, keepalive pings (a peer that does not
answer within the timeout is closed with 1011), the message size limit (1009), writing paused while
the transport's buffer is full, a 403 when the application closes before accepting, and 1012 to every
open socket at shutdown.

Hostile peers: frames are read only while the application waits for a message (so nothing of a socket
is parsed before the application has checked its credential and accepted it), at most
FRAMES_PER_TURN per turn of the event loop, and after our close frame only a few, looking for the
answer. A message may come in at most MAX_FRAGMENTS fragments. A peer that does not read what we send
is dropped (pongs to a full buffer at once, application messages after a ping timeout), not buffered for.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any, cast
from urllib.parse import unquote

from uvicorn._types import WWWScope
from uvicorn.config import Config
from uvicorn.protocols.utils import ClientDisconnected, get_client_addr, get_local_addr, get_remote_addr, is_ssl
from uvicorn.server import ServerState
from websockets.http11 import Request, Response
from websockets.server import ServerProtocol

from checkin.server.timers import Timer, timers
from checkin.server.wsframes import (
    BINARY,
    CLOSE,
    CONT,
    DATA_OPCODES,
    PING,
    PONG,
    TALLY,
    TEXT,
    ProtocolError,
    close_payload,
    frame,
    frame_header,
    parse_close,
    shared_header,
)

try:
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - the C extension is missing on some platforms
    from websockets.utils import apply_mask

log = logging.getLogger("uvicorn.error")

CLOSE_TIMEOUT = 10.0
# Fragments of one message: browsers send whole messages, so a handful is generous; a flood of empty
# continuations is cut off here rather than read for as long as the peer likes.
MAX_FRAGMENTS = 64
# Frames parsed per turn of the event loop before the socket yields to the others (reading paused).
FRAMES_PER_TURN = 64
# Frames still read after our close frame, looking for the peer's answer, before we stop reading (the
# close timeout then ends the connection, if the peer has not).
FRAMES_AFTER_CLOSE = 8

Message = dict[str, Any]


class WebSocketProtocol(asyncio.Protocol):
    """One websocket connection served to an ASGI application (uvicorn's protocol interface)."""

    __slots__ = (
        "app_state",
        "buffer",
        "close_sent",
        "config",
        "disconnected",
        "drained",
        "fragments",
        "fragments_opcode",
        "frame_count",
        "handshake",
        "inbox",
        "loop",
        "offset",
        "open",
        "ping_payload",
        "read_paused",
        "response",
        "scope",
        "server_state",
        "timer",
        "transport",
        "waiter",
    )

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        if not config.loaded:
            config.load()  # pragma: no cover - uvicorn loads the config before serving
        self.config = config
        self.server_state = server_state
        self.app_state = app_state
        self.loop = _loop or asyncio.get_event_loop()
        self.transport: asyncio.Transport = cast(asyncio.Transport, None)
        self.scope: dict[str, Any] | None = None
        self.handshake: ServerProtocol | None = ServerProtocol(max_size=config.ws_max_size, logger=log)
        self.response: Response | None = None
        self.open = False  # the handshake is over, accepted or not
        self.close_sent = False
        self.disconnected = False
        self.buffer: bytes | bytearray = b""
        self.offset = 0  # where the next frame starts in the buffer: parsed frames are not copied away one by one
        self.fragments: bytearray | None = None
        self.fragments_opcode = TEXT
        # Frames of the message being put together or, once our close frame is out, frames read since.
        self.frame_count = 0
        self.inbox: list[Message] = []
        self.waiter: asyncio.Future[None] | None = None  # set while the application waits for a message
        self.read_paused = False  # the transport's reading, paused while nobody wants frames
        self.drained: asyncio.Future[None] | None = None  # set while the transport's buffer is full
        self.timer: Timer | asyncio.TimerHandle | None = None  # the next ping, the pong deadline or the close deadline
        self.ping_payload: bytes | None = None

    # -- transport callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.server_state.connections.add(self)  # type: ignore[arg-type]

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        self._put({"type": "websocket.disconnect", "code": 1006})
        self.server_state.connections.discard(self)
        self.open = self.disconnected = True
        self.handshake = self.response = None
        self.buffer, self.offset = b"", 0
        self.fragments = None
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)
        if exc is None:
            self.transport.close()

    def eof_received(self) -> None:
        """The peer stopped sending: the transport closes (a closing handshake, if any, is over)."""

    def pause_writing(self) -> None:
        self.drained = self.loop.create_future()

    def resume_writing(self) -> None:
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)
        self.drained = None

    def data_received(self, data: bytes) -> None:
        if self.handshake is not None and self.scope is None:
            self._handshake(data)
            return
        if self.close_sent and self.frame_count >= FRAMES_AFTER_CLOSE:
            return  # past the frames read after our close: dropped unparsed until the peer goes
        if not self.buffer:
            self.buffer = data
        else:  # a frame arriving in pieces: appended in place, not copied whole for every piece
            if isinstance(self.buffer, bytes):
                self.buffer = bytearray(self.buffer[self.offset :])
            else:
                del self.buffer[: self.offset]
            self.offset = 0
            self.buffer += data
        self._read_frames()

    def shutdown(self) -> None:
        """The server stops: open sockets are closed with 1012, unanswered handshakes get a 500."""
        self._cancel_timer()
        if self.close_sent:
            self.transport.close()
            return
        if self.open:
            self._put({"type": "websocket.disconnect", "code": 1012})
            self.transport.write(frame(CLOSE, close_payload(1012)))
            self.close_sent = True
            self.transport.close()
        else:
            self._reject(500)

    # -- the opening handshake

    def _handshake(self, data: bytes) -> None:
        assert self.handshake is not None
        self.handshake.receive_data(data)
        events = self.handshake.events_received()
        if events:
            self._connect(cast(Request, events[0]))
        elif self.handshake.handshake_exc is not None:  # not a request: the handshake has answered it
            self._finish_handshake()
            self.close_sent = True
            self.transport.close()

    def _connect(self, request: Request) -> None:
        assert self.handshake is not None
        response = self.handshake.accept(request)
        if response.status_code != 101:
            self._reject(response)
            return
        self.response = response
        root_path = self.config.root_path
        raw_path, _, query_string = request.path.partition("?")
        subprotocols = [
            token.strip() for header in request.headers.get_all("Sec-WebSocket-Protocol") for token in header.split(",")
        ]
        self.scope = {
            "type": "websocket",
            "asgi": {"version": self.config.asgi_version, "spec_version": "2.4"},
            "http_version": "1.1",
            "scheme": "wss" if is_ssl(self.transport) else "ws",
            "server": get_local_addr(self.transport),
            "client": get_remote_addr(self.transport),
            "root_path": root_path,
            "path": root_path + unquote(raw_path),
            "raw_path": (root_path + raw_path).encode("ascii"),
            "query_string": query_string.encode("ascii"),
            "headers": [shared_header(name, value) for name, value in request.headers.raw_items()],
            "subprotocols": subprotocols,
            "state": self.app_state.copy(),
        }
        self._put({"type": "websocket.connect"})
        # Nothing more from the peer is read until the application, having checked the credential and
        # accepted, asks for a message: a refused socket is closed with nothing of it parsed.
        self._pause_reading()
        task = self.loop.create_task(self._run_asgi())
        self.server_state.tasks.add(task)
        task.add_done_callback(self.server_state.tasks.discard)

    def _finish_handshake(self) -> None:
        """Send what the handshake produced, then forget it: the connection is open or closing."""
        assert self.handshake is not None
        self.transport.write(b"".join(self.handshake.data_to_send()))
        self.handshake = self.response = None
        self.open = True

    def _accept(self, message: Message) -> None:
        assert self.handshake is not None and self.response is not None and self.scope is not None
        self._log("[accepted]")
        headers = self.response.headers
        del headers["Date"]
        for name, value in [*self.server_state.default_headers, *message.get("headers", [])]:
            headers[name.decode("latin-1").lower()] = value.decode("latin-1")
        if message.get("subprotocol"):
            headers["Sec-WebSocket-Protocol"] = message["subprotocol"]
        self.handshake.send_response(self.response)
        self._finish_handshake()
        self._schedule_ping()

    def _log(self, outcome: str) -> None:
        """uvicorn's line for a websocket, without the query string (tickets and tokens are credentials)."""
        assert self.scope is not None
        log.info('%s - "WebSocket %s" %s', get_client_addr(cast(WWWScope, self.scope)), self.scope["path"], outcome)

    def _reject(self, response: Response | int) -> None:
        """Refuse the handshake with an HTTP answer (or just a status); the connection closes."""
        assert self.handshake is not None
        if isinstance(response, int):
            response = self.handshake.reject(response, "" if response == 403 else "Internal Server Error")
        self.handshake.send_response(response)
        self._finish_handshake()
        self.close_sent = True
        self.transport.close()

    # -- frames

    def _wants_frames(self) -> bool:
        """Whether frames are read now: the application waits for a message, or our close awaits its answer."""
        if not self.open or self.disconnected or self.transport.is_closing():
            return False
        if self.close_sent:
            return self.frame_count < FRAMES_AFTER_CLOSE
        return self.waiter is not None and not self.inbox

    def _read_frames(self) -> None:
        """Parse buffered frames while they are wanted, at most FRAMES_PER_TURN before yielding the loop."""
        try:
            for _ in range(FRAMES_PER_TURN):
                if not self._wants_frames():
                    if self.close_sent:  # read on only to see the peer go; what it sends is dropped
                        self.buffer, self.offset = b"", 0
                        self._resume_reading()
                    else:
                        self._pause_reading()  # the rest waits in the kernel; TCP slows the peer down
                    return
                parsed = self._next_frame()
                if parsed is None:
                    self._resume_reading()
                    return
                TALLY.frames += 1
                self._on_frame(*parsed)
        except ProtocolError as exc:
            self._fail(exc.code, exc.reason)
            return
        # A peer sending many small frames: let the other connections have the loop, then go on.
        self._pause_reading()
        self.loop.call_soon(self._read_frames)

    def _pause_reading(self) -> None:
        if not self.read_paused and not self.transport.is_closing():
            self.read_paused = True
            self.transport.pause_reading()

    def _resume_reading(self) -> None:
        if self.read_paused and not self.transport.is_closing():
            self.read_paused = False
            self.transport.resume_reading()

    def _next_frame(self) -> tuple[bool, int, bytes] | None:
        """The next complete frame in the buffer (fin, opcode, unmasked payload), or None for more bytes."""
        buffer = self.buffer
        header = frame_header(buffer, self.offset)
        if header is None:
            return None
        fin, opcode, length, offset = header
        if opcode in DATA_OPCODES and not self.close_sent:
            size = length + (len(self.fragments) if self.fragments is not None else 0)
            if self.config.ws_max_size and size > self.config.ws_max_size:
                raise ProtocolError(1009, f"message over {self.config.ws_max_size} bytes")
        end = offset + 4 + length
        if len(buffer) < end:
            return None
        payload = apply_mask(buffer[offset + 4 : end], buffer[offset : offset + 4])
        if end == len(buffer):
            self.buffer, self.offset = b"", 0
        else:
            self.offset = end
        return fin, opcode, payload

    def _on_frame(self, fin: bool, opcode: int, payload: bytes) -> None:
        if self.close_sent:  # our close is out: only the peer's answer matters, and only for a few frames
            self.frame_count += 1
            if opcode == CLOSE:
                self._cancel_timer()
                self.transport.close()
        elif opcode == PING:
            if self.drained is not None:  # the peer does not read what we send: drop it rather than buffer
                self._drop()
                return
            self.transport.write(frame(PONG, payload))
        elif opcode == PONG:
            self._on_pong(payload)
        elif opcode == CLOSE:
            self._on_close(payload)
        elif (opcode == CONT) != (self.fragments is not None):
            raise ProtocolError(1002, "unexpected continuation frame" if opcode == CONT else "expected continuation")
        elif not fin:
            if self.fragments is None:
                self.fragments, self.fragments_opcode, self.frame_count = bytearray(), opcode, 0
            self.frame_count += 1
            if self.frame_count > MAX_FRAGMENTS:
                raise ProtocolError(1009, f"message in over {MAX_FRAGMENTS} fragments")
            self.fragments += payload
        else:
            if self.fragments is not None:
                self.fragments += payload
                payload, opcode, self.fragments = bytes(self.fragments), self.fragments_opcode, None
            self._on_message(opcode, payload)

    def _on_message(self, opcode: int, payload: bytes) -> None:
        if opcode == TEXT:
            try:
                self._put({"type": "websocket.receive", "text": payload.decode()})
            except UnicodeDecodeError:
                raise ProtocolError(1007, "invalid UTF-8") from None
        else:
            self._put({"type": "websocket.receive", "bytes": payload})

    def _on_close(self, payload: bytes) -> None:
        code, reason = parse_close(payload)
        self._put({"type": "websocket.disconnect", "code": code, "reason": reason})
        self._closing()
        self.transport.write(frame(CLOSE, payload if code != 1005 else b""))
        self._cancel_timer()
        self.transport.close()

    def _fail(self, code: int, reason: str) -> None:
        """Close at once after a protocol error or a lost peer: the application sees the code."""
        self._cancel_timer()
        if self.close_sent:  # a broken frame where only the answer to our close was awaited
            self.transport.close()
            return
        self._put({"type": "websocket.disconnect", "code": code, "reason": reason})
        self._closing()
        self.frame_count = FRAMES_AFTER_CLOSE  # the stream is broken: nothing more of it is parsed
        self.transport.write(frame(CLOSE, close_payload(code, reason)))
        if not self._end_our_side():
            self.transport.close()

    def _end_our_side(self) -> bool:
        """After our close frame: end our side of the TCP connection if the transport can (False if not).

        Closing at once, with the peer's frames unread, would reset the connection and could lose the
        close frame on its way; with our side ended the peer reads it, then ends its own. The close
        timeout aborts a peer that does not.
        """
        self._cancel_timer()
        self.timer = timers(self.loop).later(CLOSE_TIMEOUT, self.transport.abort)
        if not self.transport.can_write_eof():
            return False
        self.transport.write_eof()
        return True

    def _drop(self) -> None:
        """Drop a peer that does not read: what is waiting for it is thrown away, not kept in memory."""
        self._cancel_timer()
        self._put({"type": "websocket.disconnect", "code": 1006})
        self._closing()
        self.transport.abort()

    def _closing(self) -> None:
        """Our close frame is going out: whatever message was being put together is dropped."""
        self.close_sent = True
        self.fragments, self.frame_count = None, 0

    # -- keepalive

    def _schedule_ping(self) -> None:
        interval = self.config.ws_ping_interval
        if interval is not None and interval > 0:
            self.timer = timers(self.loop).later(interval, self._ping)

    def _ping(self) -> None:
        self.timer = None
        self.ping_payload = os.urandom(4)
        self.transport.write(frame(PING, self.ping_payload))
        timeout = self.config.ws_ping_timeout
        if timeout is None:
            self._schedule_ping()
        else:
            self.timer = timers(self.loop).later(timeout, self._fail, 1011, "keepalive ping timeout")

    def _on_pong(self, payload: bytes) -> None:
        if self.ping_payload is None or payload != self.ping_payload:
            return  # unsolicited, or a late answer to an earlier ping
        self.ping_payload = None
        if self.config.ws_ping_timeout is not None:
            self._cancel_timer()
            self._schedule_ping()

    def _cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.ping_payload = None

    # -- the application

    async def _run_asgi(self) -> None:
        assert self.scope is not None
        try:
            await self.config.loaded_app(self.scope, self.receive, self.send)
        except ClientDisconnected:
            pass
        except BaseException:
            log.exception("Exception in ASGI application\n")
            if self.handshake is not None:
                self._reject(500)
        else:
            if self.handshake is not None:
                log.error("ASGI callable returned without completing handshake.")
                self._reject(500)
        self.scope = None
        if not self.close_sent or self.timer is None:  # else the peer's answering close is still awaited
            self._cancel_timer()
            self.transport.close()

    def _put(self, message: Message) -> None:
        self.inbox.append(message)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def receive(self) -> Message:
        """The next ASGI event for the application."""
        while not self.inbox:
            self.waiter = self.loop.create_future()
            self._read_frames()  # the application wants a message: parse what is buffered, read on
            try:
                await self.waiter
            finally:
                self.waiter = None
        return self.inbox.pop(0)

    async def send(self, message: Message) -> None:
        """An ASGI message from the application."""
        if self.drained is not None:
            # A peer that takes nothing of what we send for a whole ping timeout is as gone as one that
            # does not answer pings: it is dropped, and what waits for it is not kept.
            try:
                await asyncio.wait_for(asyncio.shield(self.drained), self.config.ws_ping_timeout or CLOSE_TIMEOUT)
            except TimeoutError:
                self._drop()
        if self.disconnected or self.transport.is_closing():
            raise ClientDisconnected()
        kind = message["type"]
        if self.handshake is not None:
            if kind == "websocket.accept":
                self._accept(message)
            elif kind == "websocket.close":
                self._log("403")
                self._put({"type": "websocket.disconnect", "code": 1006})
                self._reject(403)
            else:
                raise RuntimeError(f"Expected ASGI message 'websocket.accept' or 'websocket.close', but got '{kind}'.")
        elif self.close_sent:
            raise RuntimeError(f"Unexpected ASGI message '{kind}', after sending 'websocket.close'.")
        elif kind == "websocket.send":
            data = message.get("bytes")
            self.transport.write(frame(BINARY, data) if data is not None else frame(TEXT, message["text"].encode()))
        elif kind == "websocket.close":
            code, reason = message.get("code", 1000), message.get("reason") or ""
            self._put({"type": "websocket.disconnect", "code": code, "reason": reason})
            self._closing()
            self.transport.write(frame(CLOSE, close_payload(code, reason)))
            self._end_our_side()
            self._read_frames()  # only to find the peer's answering close, a few frames at most
        else:
            raise RuntimeError(f"Expected ASGI message 'websocket.send' or 'websocket.close', but got '{kind}'.")

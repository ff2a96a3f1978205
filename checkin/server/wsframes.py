"""RFC 6455 pieces without I/O for `checkin.server.websocket`: opcodes, server frames, close payloads, and
the table of handshake headers shared between sockets."""

from __future__ import annotations

import struct

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
DATA_OPCODES = {CONT, TEXT, BINARY}
CONTROL_OPCODES = {CLOSE, PING, PONG}
# Close codes a peer may send (RFC 6455 §7.4; 1005, 1006 and 1015 never go on the wire).
VALID_CLOSE_CODES = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014}
# RFC 6455 §5.5: a control frame carries at most 125 bytes, two of them the close code.
MAX_CLOSE_REASON = 123
# Headers whose values most handshakes share (one browser build sends the same User-Agent from every
# tab): their (name, value) pairs are kept once, in a bounded table, rather than once per socket.
SHARED_HEADERS = {
    "host",
    "origin",
    "upgrade",
    "connection",
    "sec-websocket-version",
    "sec-websocket-extensions",
    "user-agent",
    "accept-language",
    "accept-encoding",
    "cache-control",
    "pragma",
}
SHARED_HEADERS_MAX = 4096


class Tally:
    """Frames parsed by every socket of this process (tests and benchmarks read it)."""

    __slots__ = ("frames",)

    def __init__(self) -> None:
        self.frames = 0


TALLY = Tally()


_shared_headers: dict[tuple[str, str], tuple[bytes, bytes]] = {}


def shared_header(name: str, value: str) -> tuple[bytes, bytes]:
    """A handshake header as the ASGI scope has it (lowercased name, bytes), shared where values repeat."""
    header = _shared_headers.get((name, value))
    if header is None:
        lowered = name.lower()
        header = (lowered.encode("ascii"), value.encode("latin-1"))
        if lowered in SHARED_HEADERS and len(_shared_headers) < SHARED_HEADERS_MAX:
            _shared_headers[name, value] = header
    return header


class ProtocolError(Exception):
    """The peer broke the protocol: the connection fails with `code`."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def frame(opcode: int, payload: bytes) -> bytes:
    """One unfragmented, unmasked server frame."""
    size = len(payload)
    if size < 126:
        return bytes((0x80 | opcode, size)) + payload
    if size < 65536:
        return struct.pack("!BBH", 0x80 | opcode, 126, size) + payload
    return struct.pack("!BBQ", 0x80 | opcode, 127, size) + payload


def frame_header(buffer: bytes | bytearray, start: int) -> tuple[bool, int, int, int] | None:
    """The client frame at `start`: (fin, opcode, payload length, where its mask starts); None until complete.

    ProtocolError for what RFC 6455 forbids a client: unmasked frames, reserved bits (no extension is
    negotiated), unknown opcodes, fragmented or long control frames.
    """
    if len(buffer) - start < 2:
        return None
    first, second = buffer[start], buffer[start + 1]
    fin, opcode, length, offset = bool(first & 0x80), first & 0x0F, second & 0x7F, start + 2
    if first & 0x70 or not second & 0x80:
        raise ProtocolError(1002, "reserved bits set" if first & 0x70 else "unmasked frame")
    if opcode not in DATA_OPCODES and opcode not in CONTROL_OPCODES:
        raise ProtocolError(1002, "invalid opcode")
    if opcode in CONTROL_OPCODES and (not fin or length > 125):
        raise ProtocolError(1002, "invalid control frame")
    if length >= 126:
        offset = start + (4 if length == 126 else 10)
        if len(buffer) < offset:
            return None
        length = int.from_bytes(buffer[start + 2 : offset], "big")
    return fin, opcode, length, offset


def close_payload(code: int, reason: str = "") -> bytes:
    """A close frame's payload; the reason is cut to 123 bytes (on a character boundary) to fit RFC 6455."""
    encoded = reason.encode()
    if len(encoded) > MAX_CLOSE_REASON:
        encoded = encoded[:MAX_CLOSE_REASON].decode(errors="ignore").encode()
    return code.to_bytes(2, "big") + encoded


def parse_close(payload: bytes) -> tuple[int, str]:
    """The code and reason of a close frame (1005 when it has none)."""
    if not payload:
        return 1005, ""
    code = int.from_bytes(payload[:2], "big")
    if len(payload) < 2 or not (code in VALID_CLOSE_CODES or 3000 <= code < 5000):
        raise ProtocolError(1002, "invalid close frame")
    try:
        return code, payload[2:].decode()
    except UnicodeDecodeError:
        raise ProtocolError(1007, "invalid UTF-8 in close reason") from None

"""Each hostile client alone against a real `checkin serve`: how long the door answers /healthz while it
tries. (`bench_hostile` measures the kiosks' scans under all of them at once.) Run: `python -m bench attacks`.

- fragment flood: sockets to a watch path send a text frame start then 20,000 empty continuations;
- slowloris: 200 connections send part of a request's headers and wait;
- anonymous ids: 300 watch sockets with made-up anonymous ids from one address;
- unread pongs: a peer sends 20 MB of pings and reads nothing (server memory before and after).

For each, the slowest /healthz answer (polled every 50 ms) and what became of the hostile connections.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from bench.common import machine, server_process
from checkin.models import Event, parse_iso
from checkin.storage import Database
from checkin.storage.events import create_event

FLOOD = bytes.fromhex("018100000000" + "61") + bytes.fromhex("008000000000") * 20_000
PARTIAL = b"GET /healthz HTTP/1.1\r\nHost: bench\r\nX-Slow: "
PING = bytes.fromhex("89fd00000000") + b"p" * 125  # a masked ping with a 125-byte payload (mask of zeros)


def handshake(path: str) -> bytes:
    key = base64.b64encode(os.urandom(16))
    return (
        f"GET {path} HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n".encode()
        + b"Sec-WebSocket-Key: "
        + key
        + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )


async def watch_health(url: str, stop: asyncio.Event) -> float:
    """The slowest /healthz answer (seconds) while `stop` is not set."""
    slowest = 0.0
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        while not stop.is_set():
            started = time.monotonic()
            while True:  # a kept-alive connection the server closed meanwhile: ask again, on a new one
                with contextlib.suppress(httpx.TransportError):
                    await client.get("/healthz")
                    break
            slowest = max(slowest, time.monotonic() - started)
            await asyncio.sleep(0.05)
    return slowest


async def during(url: str, attack: Callable[[], Awaitable[str]]) -> str:
    """Run an attack while polling /healthz; a line with the slowest answer and the attack's outcome."""
    stop = asyncio.Event()
    health = asyncio.ensure_future(watch_health(url, stop))
    await asyncio.sleep(0.2)
    outcome = await attack()
    stop.set()
    return f"slowest /healthz {await health:.2f} s; {outcome}"


async def read_to_end(reader: asyncio.StreamReader, limit: float) -> bool:
    """Whether the server closed the connection within `limit` seconds."""
    try:
        while await asyncio.wait_for(reader.read(65536), limit):
            pass
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False
    return True


def fragment_flood(port: int, sockets: int) -> Callable[[], Awaitable[str]]:
    async def attack() -> str:
        started = time.monotonic()

        async def one() -> bool:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(handshake("/ws/events/no-such-event/watch?anon=" + "a" * 20))
            await reader.readuntil(b"\r\n\r\n")  # the 101: what follows is read as frames
            writer.write(FLOOD)
            closed = await read_to_end(reader, 60)
            writer.close()
            return closed

        closed = await asyncio.gather(*(one() for _ in range(sockets)))
        return f"{sum(closed)}/{sockets} flood sockets closed after {time.monotonic() - started:.2f} s"

    return attack


def slowloris(port: int, count: int, wait: float) -> Callable[[], Awaitable[str]]:
    async def attack() -> str:
        opened = [await asyncio.open_connection("127.0.0.1", port) for _ in range(count)]
        for _, writer in opened:
            writer.write(PARTIAL)
        closed = await asyncio.gather(*(read_to_end(reader, wait) for reader, _ in opened))
        for _, writer in opened:
            writer.close()
        return f"{count - sum(closed)}/{count} half-open connections still open after {wait:.0f} s"

    return attack


def anonymous_ids(port: int, count: int) -> Callable[[], Awaitable[str]]:
    async def attack() -> str:
        admitted = 0
        opened = []
        for number in range(count):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(handshake(f"/ws/events/bench/watch?anon=made-up-{number:016d}"))
            await reader.readuntil(b"\r\n\r\n")
            first = await reader.read(200)
            admitted += b'"hello"' in first
            opened.append(writer)
        for writer in opened:
            writer.close()
        return f"{admitted}/{count} made-up anonymous ids admitted from one address"

    return attack


def unread_pongs(port: int, pid: int) -> Callable[[], Awaitable[str]]:
    async def attack() -> str:
        before = rss_mib(pid)
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port))
        reader, writer = await asyncio.open_connection(sock=sock)
        writer.write(handshake("/ws/events/bench/watch?anon=" + "p" * 20))
        await reader.readuntil(b"\r\n\r\n")
        sent, batch = 0, PING * 500
        with contextlib.suppress(ConnectionResetError, BrokenPipeError, TimeoutError):
            while sent < 20_000_000:
                writer.write(batch)
                await asyncio.wait_for(writer.drain(), 15)
                sent += len(batch)
        grown = rss_mib(pid) - before
        writer.close()
        return f"{sent / 1e6:.1f} MB of pings sent before the server dropped the peer; server RSS +{grown:.1f} MiB"

    return attack


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def seed(db_path: Path) -> None:
    db = Database(db_path, "NORMAL")
    db.open()
    try:
        event = Event(
            id=0,
            slug="bench",
            title="bench",
            starts_at=parse_iso("2030-01-01T10:00:00+09:00"),
            ends_at=parse_iso("2030-01-01T12:00:00+09:00"),
            capacity=100,
            anonymous_watch=True,
        )
        db.write_sync(create_event, event, time.time())
    finally:
        db.close()


def main() -> None:
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        seed(db)
        env = {"CHECKIN_SQLITE_SYNCHRONOUS": "NORMAL", "CHECKIN_OUTBOX": tmp}
        env["CHECKIN_RATE_LIMITS"] = "on"  # the limits are what is measured here
        with server_process(db, env) as (url, proc):
            port = int(url.rsplit(":", 1)[1])
            for name, attack in [
                ("fragment flood, 1 socket", fragment_flood(port, 1)),
                ("fragment flood, 3 sockets", fragment_flood(port, 3)),
                ("slowloris, 200 connections", slowloris(port, 200, 15)),
                ("anonymous ids, 300 sockets", anonymous_ids(port, 300)),
                ("unread pongs", unread_pongs(port, proc.pid)),
            ]:
                print(f"{name}: {asyncio.run(during(url, attack))}", flush=True)
    print(json.dumps({"done": True}))


if __name__ == "__main__":
    main()

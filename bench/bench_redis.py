"""What Redis costs when several servers share it: commands and bytes per viewer join and per minute of watching.

A private `redis-server` (no persistence) on a free port and two `checkin serve` sharing it and one SQLite
file. Its `INFO commandstats` and `INFO stats` (network bytes both ways) are read before and after each phase:
- idle: the servers alone (liveness beats, connection-count syncs, the hub's listeners), per minute;
- join: VIEWERS anonymous viewers open a watch socket (half on each server) and say they watch;
- watching: they keep watching for WATCH seconds; shown per server and minute, with as many viewers as
  CHECKIN_BENCH_VIEWERS says (default 200): run it with two numbers to see whether it grows with them.
Commands are counted with MONITOR: those the servers send (a pipeline of ten is ten), and apart from them
the ones Lua scripts run inside Redis; what MONITOR itself sends is taken out of the bytes from Redis.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path

import redis
import websockets

from bench.backends import redis_server
from bench.common import machine, server
from checkin.storage import Database
from checkin.storage.events import create_event
from tests.utils import EVENT

VIEWERS = int(os.environ.get("CHECKIN_BENCH_VIEWERS", "200"))
WATCH = 30.0
IDLE = 20.0


class Monitor:
    """Every command Redis runs, as MONITOR reports it, with when it ran and whether a Lua script ran it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.seen: list[tuple[float, bool, str, int]] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        client = redis.Redis.from_url(self.url, decode_responses=True, socket_timeout=None)
        with client.monitor() as monitor:
            while True:
                try:
                    command = monitor.next_command()
                except redis.TimeoutError:  # a quiet moment
                    continue
                except redis.ConnectionError:  # the bench is over
                    return
                name = command["command"].split(" ", 1)[0].strip('"').lower()
                lua = command.get("client_type") == "lua"
                # What the MONITOR line itself cost Redis to send: "+<time> [0 <client>] <command>\r\n".
                sender = "lua" if lua else f"{command.get('client_address')}:{command.get('client_port')}"
                echoed = len(f"+{command['time']:.6f} [0 {sender}] ") + len(command["command"]) + 2
                self.seen.append((time.time(), lua, name, echoed))

    def between(self, start: float, end: float) -> tuple[Counter[str], Counter[str], int]:
        """Commands sent by clients, commands run by scripts, and the bytes MONITOR itself took, in this span."""
        sent: Counter[str] = Counter()
        scripted: Counter[str] = Counter()
        echoed = 0
        for at, lua, name, size in list(self.seen):
            if start <= at < end:
                (scripted if lua else sent)[name] += 1
                echoed += size
        return sent, scripted, echoed


def net_bytes(url: str) -> tuple[int, int]:
    """Bytes Redis has received and sent so far."""
    client = redis.Redis.from_url(url, decode_responses=True)
    try:
        stats = client.info("stats")
    finally:
        client.close()
    return int(stats["total_net_input_bytes"]), int(stats["total_net_output_bytes"])


@dataclass
class Phase:
    seconds: float
    sent: Counter[str]
    scripted: Counter[str]
    bytes_in: int
    bytes_out: int


async def viewers(urls: list[str]) -> list[websockets.ClientConnection]:
    """VIEWERS anonymous viewers, alternating between the servers, all watching."""
    sockets = []
    for number in range(VIEWERS):
        base = urls[number % len(urls)].replace("http://", "ws://")
        socket = await websockets.connect(f"{base}/ws/events/bench/watch?anon=viewer-{number:012d}")
        await socket.recv()
        await socket.send(json.dumps({"type": "state", "watching": True}))
        await socket.recv()
        sockets.append(socket)
    return sockets


async def phase(monitor: Monitor, seconds: float, action: Callable[[], Awaitable[object]] | None = None) -> Phase:
    """What Redis did while `action` ran and `seconds` passed."""
    start, (bytes_in, bytes_out) = time.time(), net_bytes(monitor.url)
    if action is not None:
        await action()
    await asyncio.sleep(seconds)
    end, (after_in, after_out) = time.time(), net_bytes(monitor.url)
    sent, scripted, echoed = monitor.between(start, end)
    return Phase(end - start, sent, scripted, after_in - bytes_in, after_out - bytes_out - echoed)


async def measure(monitor: Monitor, urls: list[str]) -> tuple[Phase, Phase, Phase]:
    sockets: list[websockets.ClientConnection] = []

    async def join() -> None:
        sockets.extend(await viewers(urls))

    idle = await phase(monitor, IDLE)
    joined = await phase(monitor, 2.0, join)  # the servers settle the starts at their next flush
    watching = await phase(monitor, WATCH)
    for socket in sockets:
        await socket.close()
    return idle, joined, watching


def per(phase: Phase, idle: Phase, divisor: float) -> dict[str, float]:
    """A phase's commands and bytes less what idle servers do in the same time, divided by `divisor`."""
    scale = phase.seconds / idle.seconds
    return {
        "commands": (sum(phase.sent.values()) - scale * sum(idle.sent.values())) / divisor,
        "script_commands": (sum(phase.scripted.values()) - scale * sum(idle.scripted.values())) / divisor,
        "bytes_in": (phase.bytes_in - scale * idle.bytes_in) / divisor,
        "bytes_out": (phase.bytes_out - scale * idle.bytes_out) / divisor,
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, redis_server() as redis_url:
        db_path = Path(tmp) / "bench.db"
        db = Database(db_path, "NORMAL")
        db.open()
        db.write_sync(create_event, replace(EVENT, slug="bench", capacity=0), time.time())
        db.close()
        env = {
            "CHECKIN_REDIS_URL": redis_url,
            "CHECKIN_RATE_LIMITS": "on",
            "CHECKIN_MAX_ANONYMOUS_PER_ADDRESS": str(VIEWERS),
            "CHECKIN_MAX_CONNECTIONS_PER_ADDRESS": str(2 * VIEWERS),  # all viewers come from this one address
            "CHECKIN_QR_WORKERS": "0",
            "CHECKIN_SQLITE_SYNCHRONOUS": "NORMAL",
        }
        monitor = Monitor(redis_url)
        monitor.thread.start()
        with server(db_path, env) as first, server(db_path, env) as second:
            idle, joined, watching = asyncio.run(measure(monitor, [first, second]))
    print(f"machine: {machine()}; {VIEWERS} viewers over 2 servers; Redis on the same machine")
    for name, span in (("idle", idle), ("watching", watching)):
        per_server_minute = 60.0 / span.seconds / 2
        print(
            f"{name}, per server and minute: {sum(span.sent.values()) * per_server_minute:.0f} commands"
            f" (+{sum(span.scripted.values()) * per_server_minute:.0f} in scripts),"
            f" {span.bytes_in * per_server_minute / 1024:.1f} KiB to Redis,"
            f" {span.bytes_out * per_server_minute / 1024:.1f} KiB from Redis"
        )
    print("per viewer join:", json.dumps({k: round(v, 2) for k, v in per(joined, idle, VIEWERS).items()}))
    print("join, sent:", json.dumps(dict(joined.sent.most_common())), "scripted:", json.dumps(dict(joined.scripted)))
    print(
        "watching, sent:",
        json.dumps(dict(watching.sent.most_common())),
        "scripted:",
        json.dumps(dict(watching.scripted)),
    )
    print("idle, sent:", json.dumps(dict(idle.sent.most_common())))


if __name__ == "__main__":
    main()

"""The organisers' office: a score of dashboards on the dashboard socket throughout, reconnecting on their
own (dashboard n on server n modulo the servers, or the next while that one is down); and, as a fault, one
that connects and never reads."""

from __future__ import annotations

import asyncio
import bisect
import json
import random
import socket
import time
from urllib.parse import urlsplit

from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake, InvalidMessage, WebSocketException

from checkin.rehearsal.stage import Stage, ws


class Dashboard:
    """One dashboard page: keeps the newest snapshot, and when each arrived (for scan → dashboard latency)."""

    def __init__(self, stage: Stage, number: int) -> None:
        self.stage, self.number = stage, number
        self.closed = False
        self.task = asyncio.create_task(self.run())

    async def run(self) -> None:
        stage = self.stage
        path = f"/ws/events/{stage.slug}/dashboard?token={stage.dashboard_token}"
        while not self.closed:
            number, base = stage.base(self.number)
            try:
                url = ws(base) + path
                async with connect(url, ping_interval=None, open_timeout=15, max_size=2**22) as connection:
                    async for message in connection:
                        snapshot = json.loads(message)
                        at = time.time()
                        if snapshot.get("type") != "snapshot":
                            continue
                        if self.number == 0:
                            stage.last_snapshot = {**snapshot, "_received": at}
                        if self.number < len(stage.servers):  # one dashboard per server is compared at the end
                            stage.last_snapshots[self.number] = {**snapshot, "_received": at}
                        stage.snapshots.append((at, int(snapshot["venue"]["checked_in"])))
            except (OSError, TimeoutError, InvalidMessage):
                stage.balancer.failed(number)  # no answer at all: the server is down
            except (InvalidHandshake, WebSocketException, ValueError, KeyError):
                pass
            if not self.closed:
                stage.bump("dashboard_reconnects")
                await asyncio.sleep(random.uniform(0.5, 2.0))

    async def close(self) -> None:
        self.closed = True
        self.task.cancel()


def open_dashboards(stage: Stage, count: int) -> list[Dashboard]:
    return [Dashboard(stage, n) for n in range(count)]


def slow_dashboard(stage: Stage) -> socket.socket:
    """A dashboard that opens its socket, then never reads a byte (its receive buffer kept tiny)."""
    parts = urlsplit(stage.url)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    sock.connect((parts.hostname or "127.0.0.1", parts.port or 80))
    path = f"/ws/events/{stage.slug}/dashboard?token={stage.dashboard_token}"
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    stage.bump("slow_dashboards")
    return sock


def scan_to_dashboard_ms(stage: Stage) -> list[float]:
    """For each answered scan, how long until the dashboards showed at least its count."""
    received = sorted(stage.snapshots)
    times = [at for at, _ in received]
    out: list[float] = []
    for sent, _answered, count in stage.scan_answers:
        for at, shown in received[bisect.bisect_left(times, sent) :]:
            if shown >= count:
                out.append((at - sent) * 1000)
                break
    return out


async def settled_snapshot(stage: Stage, after: float, wait: float = 15.0) -> None:
    """Wait for a dashboard snapshot made after `after` on every compared dashboard (the server sends one at
    least every 5 s); one that never comes leaves that dashboard's older snapshot to be compared."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        snaps = [stage.last_snapshot, *stage.last_snapshots.values()]
        if all(snap is not None and float(str(snap["_received"])) > after + 0.5 for snap in snaps):
            return
        await asyncio.sleep(0.2)

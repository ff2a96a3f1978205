"""Shared helpers for tests: a real uvicorn server on a free port, and a seeded event."""

from __future__ import annotations

import contextlib
import random
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from checkin.app import create_app
from checkin.models import Event, parse_iso
from checkin.server import uvicorn_options
from checkin.settings import Settings

EVENT = Event(
    id=0,
    slug="sympo",
    title="テストシンポジウム",
    starts_at=parse_iso("2023-11-27T13:30:00+09:00"),
    ends_at=parse_iso("2023-11-27T16:30:00+09:00"),
    capacity=50,
    venue_name="御茶ノ水ソラシティ 2F ホール",
    venue_address="東京都千代田区神田駿河台4-6",
    anonymous_watch=True,
)


def _ephemeral_low() -> int:
    """Where the kernel's range of ports for outgoing connections starts (32768 where it cannot be read)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A port free now, below the range the kernel hands to outgoing connections: a server started on it a
    moment later does not find it taken by some client's connection (many run on this machine at once)."""
    low = _ephemeral_low()
    for _ in range(200):
        port = random.randrange(10_000, low) if low > 10_100 else 0
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise RuntimeError("no free port found")


@dataclass
class LiveServer:
    """A running uvicorn server in a background thread."""

    url: str
    port: int
    server: uvicorn.Server

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://")


@contextlib.contextmanager
def run_server(settings: Settings, port: int | None = None) -> Iterator[LiveServer]:
    """Serve create_app(settings) with uvicorn, as `checkin serve` does, until the block ends."""
    port = port or free_port()
    from dataclasses import replace

    settings = replace(settings, base_url=f"http://127.0.0.1:{port}")
    with serve(create_app(settings), port, **uvicorn_options(settings)) as live:
        yield live


@contextlib.contextmanager
def serve(app: ASGIApp, port: int | None = None, **options: Any) -> Iterator[LiveServer]:
    """Serve an ASGI app with uvicorn (these options) in a background thread until the block ends."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("server did not start")
        time.sleep(0.02)
    try:
        yield LiveServer(url=f"http://127.0.0.1:{port}", port=port, server=server)
    finally:
        server.should_exit = True
        thread.join(timeout=15)

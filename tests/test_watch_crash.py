"""Online figures across a crash of a real `checkin serve`: the peak /stats showed survives SIGKILL."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
from pathlib import Path

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from checkin.models import Role
from checkin.settings import Settings
from tests.conftest import make_token, seed_event
from tests.serve_process import ServerProcess, start
from tests.utils import EVENT, free_port

pytestmark = pytest.mark.slow

VIEWERS = 8
WATCH_SECONDS = 12.0  # more than two heartbeats, far less than the old 30 s refresh
GRACE = "3"


async def viewer(server: ServerProcess, number: int) -> ClientConnection:
    """An anonymous viewer whose player plays."""
    socket = await websockets.connect(f"{server.ws_url}/ws/events/{EVENT.slug}/watch?anon=viewer-{number:012d}")
    assert json.loads(await socket.recv())["type"] == "hello"
    await socket.send(json.dumps({"type": "state", "watching": True}))
    assert json.loads(await socket.recv()) == {"type": "ack", "watching": True}
    return socket


def online(server: ServerProcess, token: str) -> dict[str, object]:
    response = httpx.get(
        f"{server.url}/api/v1/events/{EVENT.slug}/stats", headers={"authorization": f"Bearer {token}"}, timeout=10
    )
    assert response.status_code == 200, response.text
    figures: dict[str, object] = response.json()["online"]
    return figures


def once_nobody_watches(server: ServerProcess, token: str) -> dict[str, object]:
    """/stats' online figures once the viewers of the dead server have been closed (grace over)."""
    deadline = time.monotonic() + 90
    figures = online(server, token)
    while figures["now"] != 0 and time.monotonic() < deadline:
        time.sleep(0.5)
        figures = online(server, token)
    return figures


def intervals(db: Path) -> list[tuple[float, float | None]]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute("SELECT started_at, ended_at FROM viewing_intervals").fetchall()


def last_heartbeat(db: Path) -> float:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        (at,) = conn.execute("SELECT MAX(last_seen_at) FROM server_heartbeats").fetchone()
    assert at is not None
    return float(at)


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
async def test_the_peak_survives_a_crash_and_a_graceful_restart(tmp_path: Path, how: str) -> None:
    """8 viewers watch, the server dies (or stops cleanly) and starts again: peak 8, unique 8, nobody now."""
    db = tmp_path / "checkin.db"
    settings = Settings(db_path=db, sqlite_synchronous="NORMAL")
    event = seed_event(settings, EVENT)
    token = make_token(settings, event, Role.DASHBOARD)
    port = free_port()
    env = {"CHECKIN_WATCH_GRACE": GRACE, "CHECKIN_QR_WORKERS": "0"}
    server = start(db, port, tmp_path / "first.log", env)
    sockets: list[ClientConnection] = []
    try:
        sockets = list(await asyncio.gather(*(viewer(server, n) for n in range(VIEWERS))))
        await asyncio.sleep(WATCH_SECONDS)
        shown = await asyncio.to_thread(online, server, token)
        assert (shown["now"], shown["peak"], shown["unique"]) == (VIEWERS, VIEWERS, VIEWERS)
        if how == "SIGKILL":
            beat = last_heartbeat(db)
            server.kill()
        else:
            server.stop()
    finally:
        server.stop()
        for socket in sockets:
            with contextlib.suppress(Exception):
                await socket.close()
    again = await asyncio.to_thread(start, db, port, tmp_path / "second.log", env)
    try:
        after = await asyncio.to_thread(once_nobody_watches, again, token)
    finally:
        again.stop()
    assert (after["now"], after["peak"], after["unique"]) == (0, VIEWERS, VIEWERS)
    assert after["peak_at"] is not None
    ended = [end for _start, end in intervals(db)]
    assert len(ended) == VIEWERS and None not in ended
    if how == "SIGKILL":  # closed at the dead server's last heartbeat, not at their start
        assert min(end for end in ended if end is not None) >= beat

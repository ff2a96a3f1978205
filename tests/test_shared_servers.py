"""Two real `checkin serve` processes on one database and one Redis: they count online viewers as one."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
import websockets
from websockets.asyncio.client import ClientConnection

from checkin.models import Role
from checkin.settings import Settings
from tests.conftest import make_token, seed_event
from tests.serve_process import ServerProcess, start
from tests.shared_redis import REDIS_URL, private_redis, redis_prefix
from tests.test_watch_crash import online
from tests.utils import EVENT, free_port

__all__ = ["redis_prefix"]
pytestmark = pytest.mark.slow
KILLED_GONE_WITHIN = 30.0  # seconds: a killed server's viewers leave the count by then


async def tab(server: ServerProcess, browser: str) -> ClientConnection:
    """A tab of an anonymous viewer (its browser id) whose player plays, on this server."""
    socket = await websockets.connect(f"{server.ws_url}/ws/events/{EVENT.slug}/watch?anon={browser * 20}")
    assert json.loads(await socket.recv())["type"] == "hello"
    await socket.send(json.dumps({"type": "state", "watching": True}))
    assert json.loads(await socket.recv()) == {"type": "ack", "watching": True}
    return socket


async def watch_count(server: ServerProcess, token: str, until: int, seconds: float = 60.0) -> list[int]:
    """Every `now` the server's /stats showed, polled until it shows `until` (or time is up)."""
    seen: list[int] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seen.append(int((await asyncio.to_thread(online, server, token))["now"]))  # type: ignore[call-overload]
        if seen[-1] == until:
            break
        await asyncio.sleep(0.3)
    return seen


async def test_a_killed_servers_viewers_leave_and_come_back_once(tmp_path: Path, redis_prefix: str) -> None:
    """P watches on A and B, Q on A only: two viewers. A is killed: P stays counted, Q leaves within 30 s;
    Q reopens on B: two again, never three; peak 2."""
    db = tmp_path / "checkin.db"
    settings = Settings(db_path=db, sqlite_synchronous="NORMAL")
    event = seed_event(settings, EVENT)
    token = make_token(settings, event, Role.DASHBOARD)
    env = {
        "CHECKIN_WATCH_GRACE": "3",
        "CHECKIN_QR_WORKERS": "0",
        "CHECKIN_REDIS_URL": REDIS_URL,
        "CHECKIN_REDIS_PREFIX": redis_prefix,
    }
    first = start(db, free_port(), tmp_path / "a.log", env)
    second = start(db, free_port(), tmp_path / "b.log", env)
    sockets: list[ClientConnection] = []
    try:
        sockets = [await tab(second, "p"), await tab(first, "p"), await tab(first, "q")]
        assert (await watch_count(second, token, 2))[-1] == 2
        first.kill()
        killed = time.monotonic()
        seen = await watch_count(second, token, 1)
        assert seen[-1] == 1 and time.monotonic() - killed <= KILLED_GONE_WITHIN, seen
        assert min(seen) == 1, seen  # P, on B all along, never left the count
        sockets.append(await tab(second, "q"))
        seen = await watch_count(second, token, 2, seconds=10)
        await asyncio.sleep(6)  # a heartbeat and a grace later, still two
        seen += await watch_count(second, token, 2, seconds=1)
        assert seen[-1] == 2 and max(seen) == 2, seen
        figures = await asyncio.to_thread(online, second, token)
        assert (figures["peak"], figures["unique"]) == (2, 2)
    finally:
        for socket in sockets:
            with contextlib.suppress(Exception):
                await socket.close()
        first.stop()
        second.stop()


async def snapshot_showing(socket: ClientConnection, watching: int) -> str:
    """The first snapshot from this dashboard socket with `watching` viewers online now."""
    while True:
        text = str(await asyncio.wait_for(socket.recv(), 30))
        if json.loads(text)["online"]["now"] == watching:
            return text


async def test_dashboards_on_two_servers_get_the_same_snapshot_of_a_change_on_one(
    tmp_path: Path, redis_prefix: str
) -> None:
    """A viewer joins on A: the dashboards on A and on B both get it, in the same snapshot (same seq, same
    figures), made once for both."""
    db = tmp_path / "checkin.db"
    settings = Settings(db_path=db, sqlite_synchronous="NORMAL")
    event = seed_event(settings, EVENT)
    token = make_token(settings, event, Role.DASHBOARD)
    env = {"CHECKIN_QR_WORKERS": "0", "CHECKIN_REDIS_URL": REDIS_URL, "CHECKIN_REDIS_PREFIX": redis_prefix}
    first = start(db, free_port(), tmp_path / "a.log", env)
    second = start(db, free_port(), tmp_path / "b.log", env)
    sockets: list[ClientConnection] = []
    try:
        for server in (first, second):
            sockets.append(await websockets.connect(f"{server.ws_url}/ws/events/{EVENT.slug}/dashboard?token={token}"))
        shown = [await snapshot_showing(socket, 0) for socket in sockets]
        assert all(json.loads(text)["online"]["now"] == 0 for text in shown)
        sockets.append(await tab(first, "w"))
        on_first, on_second = [await snapshot_showing(socket, 1) for socket in sockets[:2]]
        assert on_first == on_second
    finally:
        for socket in sockets:
            with contextlib.suppress(Exception):
                await socket.close()
        first.stop()
        second.stop()


def fields(port: int, key: str) -> set[str]:
    client = redis.Redis(port=port, decode_responses=True)
    try:
        return set(client.hkeys(key)) - {"_seen"}
    finally:
        client.close()


async def until(condition: Callable[[], bool], seconds: float = 60.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    return condition()


async def test_after_a_redis_restart_the_servers_reconnect_and_act_as_one_again(tmp_path: Path) -> None:
    """Redis restarts empty while P watches on A and B: both put P back, so A's tab closing leaves P counted;
    a viewer joining on A afterwards reaches B's dashboard in the same snapshot as A's."""
    db = tmp_path / "checkin.db"
    settings = Settings(db_path=db, sqlite_synchronous="NORMAL")
    event = seed_event(settings, EVENT)
    token = make_token(settings, event, Role.DASHBOARD)
    port = free_port()
    env = {"CHECKIN_WATCH_GRACE": "3", "CHECKIN_QR_WORKERS": "0", "CHECKIN_REDIS_URL": f"redis://127.0.0.1:{port}/0"}
    viewer_key = f"checkin:viewer:{event.id}:anon:{'p' * 20}"
    first = second = None
    sockets: list[ClientConnection] = []
    try:
        with private_redis(port):
            first = start(db, free_port(), tmp_path / "a.log", env)
            second = start(db, free_port(), tmp_path / "b.log", env)
            sockets = [await tab(first, "p"), await tab(second, "p")]
            assert await until(lambda: len(fields(port, viewer_key)) == 2), "both servers count the viewer"
        with private_redis(port):  # the same Redis, restarted empty
            assert await until(lambda: len(fields(port, viewer_key)) == 2), "both servers put the viewer back"
            dashboards = [
                await websockets.connect(f"{server.ws_url}/ws/events/{EVENT.slug}/dashboard?token={token}")
                for server in (first, second)
            ]
            sockets += dashboards
            await sockets[0].close()  # P's tab on A
            assert await until(lambda: len(fields(port, viewer_key)) == 1), "A's grace ran out"
            assert int((await asyncio.to_thread(online, second, token))["now"]) == 1  # type: ignore[call-overload]
            sockets.append(await tab(first, "q"))
            on_first, on_second = [await snapshot_showing(socket, 2) for socket in dashboards]
            assert on_first == on_second
    finally:
        for socket in sockets:
            with contextlib.suppress(Exception):
                await socket.close()
        for server in (first, second):
            if server is not None:
                server.stop()

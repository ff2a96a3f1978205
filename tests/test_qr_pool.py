"""The QR rendering pool of a real `checkin serve`: it renders on fresh servers and dies with the server."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from checkin.settings import Settings
from tests.conftest import seed_event
from tests.serve_process import ServerProcess, alive, running, start
from tests.test_registration_api import PERSON
from tests.utils import EVENT, free_port

pytestmark = pytest.mark.slow

FRESH_SERVERS = 15
AT_ONCE = 3
# Far longer than any rendering: a PNG that has not come by then never will.
PNG_WAIT = 30.0


def fresh_database(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "checkin.db"
    seed_event(Settings(db_path=db, sqlite_synchronous="NORMAL"), EVENT)
    return db


def register_and_fetch_png(server: ServerProcess, email: str = "qr@example.jp") -> httpx.Response:
    """Register one person through the API and fetch their ticket's QR image."""
    with httpx.Client(timeout=PNG_WAIT) as client:
        created = client.post(f"{server.url}/api/v1/events/{EVENT.slug}/registrations", json={**PERSON, "email": email})
        assert created.status_code == 201, created.text
        return client.get(created.json()["ticket"]["png_url"])


def one_fresh_server(folder: Path) -> tuple[int, str, str, list[int]]:
    """Start a server on a fresh database, register, fetch the PNG, stop it.

    (status, content type, the server's log, its workers still alive after it stopped).
    """
    db = fresh_database(folder)
    with running(db, free_port(), folder / "server.log") as server:
        try:
            response = register_and_fetch_png(server)
            outcome = (response.status_code, response.headers.get("content-type", ""))
        except httpx.TimeoutException:
            outcome = (0, "timed out")
        workers = server.children()
    survivors = gone_or_killed(workers)
    return (*outcome, (folder / "server.log").read_text(errors="replace"), survivors)


def gone_or_killed(pids: list[int]) -> list[int]:
    """Wait a while for these processes to end; the ones that did not (then killed, never left behind)."""
    deadline = time.monotonic() + 20
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    survivors = [pid for pid in pids if alive(pid)]
    for pid in survivors:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return survivors


def test_every_fresh_server_renders_the_first_png_in_its_worker_pool(tmp_path: Path) -> None:
    """Fifteen fresh servers each register a person and serve the QR image, without falling back."""
    with ThreadPoolExecutor(AT_ONCE) as pool:
        results = list(pool.map(one_fresh_server, [tmp_path / f"s{n}" for n in range(FRESH_SERVERS)]))
    assert [(status, kind) for status, kind, _log, _left in results] == [(200, "image/png")] * FRESH_SERVERS
    # The image came from the worker processes, not from the in-process fallback...
    assert [log for _s, _k, log, _left in results if "QR worker" in log] == []
    # ...and a stopped server leaves no worker behind.
    assert [left for *_rest, left in results if left] == []


def test_workers_die_with_a_killed_server_and_the_port_is_free_again(tmp_path: Path) -> None:
    """SIGKILL of the server's pid alone: its QR workers exit, and `checkin serve` binds the same port again."""
    db = fresh_database(tmp_path)
    port = free_port()
    server = start(db, port, tmp_path / "first.log")
    workers: list[int] = []
    try:
        assert register_and_fetch_png(server).status_code == 200
        workers = server.children()
        assert workers, "the server runs its QR workers as child processes"
        server.kill()
        assert gone_or_killed(workers) == []
    finally:
        server.stop()
        gone_or_killed(workers)
    with running(db, port, tmp_path / "second.log") as again:
        assert register_and_fetch_png(again, "again@example.jp").status_code == 200
        assert httpx.get(again.url + "/healthz").json() == {"status": "ok"}

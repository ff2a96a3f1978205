"""`checkin serve --workers N` and stopping a server: the processes, the drain, websockets told 1012."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from checkin import serving
from checkin.models import Event, Role
from checkin.server import GRACEFUL_SHUTDOWN_SECONDS
from checkin.settings import Settings
from tests.conftest import make_token
from tests.serve_process import ServerProcess, alive, backend, children_of, shared, start
from tests.shared_redis import redis_prefix
from tests.utils import free_port

__all__ = ["backend", "redis_prefix", "shared"]  # fixtures: PostgreSQL and Redis for every server here
pytestmark = pytest.mark.slow

ANON = "anon-" + "b" * 20
PG = "postgresql://postgres@127.0.0.1:5432/checkin"
WORKERS = ("--workers", "3")
WAIT = 60.0  # seconds a condition may take before the test gives up (a bound, never a measurement)


def test_one_process_needs_nothing_shared() -> None:
    """One process serves any database, with or without Redis."""
    assert serving.refusal(1, "", "") is None
    assert serving.refusal(1, PG, "") is None


def test_several_processes_need_postgresql_and_redis() -> None:
    """More than one process is refused on SQLite or without Redis, naming the settings that are missing."""
    on_sqlite = serving.refusal(3, "", "redis://127.0.0.1:6379/0")
    without_redis = serving.refusal(3, PG, "")
    neither = serving.refusal(2, "", "")
    assert on_sqlite is not None and "CHECKIN_DB" in on_sqlite and "CHECKIN_REDIS_URL" not in on_sqlite
    assert without_redis is not None and "CHECKIN_REDIS_URL" in without_redis and "CHECKIN_DB" not in without_redis
    assert neither is not None and "CHECKIN_DB" in neither and "CHECKIN_REDIS_URL" in neither
    assert serving.refusal(3, PG, "redis://127.0.0.1:6379/0") is None
    assert serving.refusal(0, PG, "redis://127.0.0.1:6379/0") is not None


def test_serve_refuses_several_processes_on_sqlite(tmp_path: Path) -> None:
    """`checkin serve --workers 3` on an SQLite file says what to set and serves nothing."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "CHECKIN_REDIS_URL"}
    done = subprocess.run(
        [sys.executable, "-m", "checkin.cli", "serve", "--db", str(tmp_path / "x.db"), "--port", str(port), *WORKERS],
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert done.returncode == 2
    assert "CHECKIN_DB" in done.stderr and "CHECKIN_REDIS_URL" in done.stderr
    assert not (tmp_path / "x.db").exists()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=5):
        pass


def supervisor_script(port: int, workers: int) -> str:
    """Python that runs the supervisor as `checkin serve --workers` does, below the command's checks."""
    return (
        "import sys; from checkin import serving; from checkin.settings import Settings; "
        f"sys.exit(serving.run_workers(Settings.from_env(), '127.0.0.1', {port}, {workers}))"
    )


def serve_command(port: int, workers: int = 1) -> list[str]:
    return [sys.executable, "-m", "checkin.cli", "serve", "--port", str(port), "--workers", str(workers)]


def start_workers(env: dict[str, str], port: int, log: Path, workers: int = 3) -> ServerProcess:
    """`checkin serve --workers N`, once its N children are up."""
    server = start(log.parent / "unused.db", port, log, env, serve_command(port, workers))
    wait_for(lambda: len(server.children()) == workers)
    return server


def wait_for(condition: object) -> None:
    """Wait until condition() holds (the test fails if it never does within WAIT)."""
    assert callable(condition)
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.05)


def owner(connection: socket.socket, candidates: list[int]) -> int | None:
    """Which of these processes holds the server's end of this client connection (from /proc)."""
    client_port = connection.getsockname()[1]
    server_port = connection.getpeername()[1]
    wanted = f":{server_port:04X} 0100007F:{client_port:04X}"
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if f"{fields[1]} {fields[2]}".endswith(wanted):
            inode = fields[9]
    for pid in candidates:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) == f"socket:[{inode}]":
                        return pid
    return None


def answered_by(server: ServerProcess) -> int | None:
    """The pid of the child that answers one new connection's /healthz."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(b"GET /healthz HTTP/1.1\r\nhost: checkin\r\n\r\n")
        assert connection.recv(4096).startswith(b"HTTP/1.1 200")
        return owner(connection, server.children())


@pytest.fixture
def workers(event: Event, shared: dict[str, str], tmp_path: Path) -> Iterator[ServerProcess]:
    """`checkin serve --workers 3` on the test's PostgreSQL database (with its event) and Redis."""
    port = free_port()
    server = start_workers(shared, port, tmp_path / "serve.log")
    children = server.children()
    try:
        yield server
    finally:
        server.stop()
        for pid in children + server.children():  # left behind only if the supervisor failed
            with contextlib.suppress(OSError):
                if b"--workers" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.kill(pid, signal.SIGKILL)


def test_children_share_the_port_and_one_killed_is_replaced(workers: ServerProcess) -> None:
    """Connections are answered by several children; a child killed is replaced; SIGTERM ends all with 0.
    The supervisor runs on one thread (whatever it opened before forking is closed)."""
    assert len(list(Path(f"/proc/{workers.proc.pid}/task").iterdir())) == 1
    first = workers.children()
    seen: set[int | None] = set()
    for _ in range(500):
        seen.add(answered_by(workers))
        if len(seen - {None}) >= 2:
            break
    assert seen - {None} <= set(first) and len(seen - {None}) >= 2

    os.kill(first[0], signal.SIGKILL)
    wait_for(lambda: first[0] not in workers.children() and len(workers.children()) == 3)
    assert httpx.get(workers.url + "/healthz", timeout=10).status_code == 200
    assert "starting another" in workers.log_text()

    everyone = workers.children()
    workers.proc.send_signal(signal.SIGTERM)
    assert workers.proc.wait(timeout=WAIT) == 0
    assert not any(alive(pid) for pid in everyone)


def test_children_end_when_the_supervisor_is_killed(workers: ServerProcess) -> None:
    """A supervisor killed outright (kill -9) takes no child with it silently: each drains and exits."""
    children = workers.children()
    workers.kill()
    wait_for(lambda: not any(alive(pid) for pid in children))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_while_children_start_is_not_lost(event: Event, shared: dict[str, str], signum: int) -> None:
    """SIGTERM (or Ctrl-C) at once after the start ends every child, however far each had come, and exits 0."""
    env = {**os.environ, **shared}
    proc = subprocess.Popen(serve_command(free_port(), 3), env=env, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: len(children_of(proc.pid)) == 3)
        children = children_of(proc.pid)
        proc.send_signal(signum)
        assert proc.wait(timeout=WAIT) == 0
        assert not any(alive(pid) for pid in children)
    finally:
        if proc.poll() is None:
            proc.kill()


@contextlib.contextmanager
def in_flight(port: int, body: bytes) -> Iterator[socket.socket]:
    """A registration whose headers the application has read and whose body it is waiting for."""
    connection = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    head = (
        "POST /api/v1/events/sympo/registrations HTTP/1.1\r\nhost: checkin\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nexpect: 100-continue\r\n\r\n"
    )
    connection.sendall(head.encode())
    assert connection.recv(4096).startswith(b"HTTP/1.1 100")  # the endpoint asked for the body
    with connection:
        yield connection


def refused(port: int) -> bool:
    """Whether a new connection to the port is turned away (nothing listens any more)."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


async def stopped_gracefully(server: ServerProcess, settings: Settings, event: Event) -> int:
    """Stop the server with requests and sockets open; check the drain; the server's exit status."""
    token = make_token(settings, event, Role.DASHBOARD)
    dashboard = await websockets.connect(f"{server.ws_url}/ws/events/sympo/dashboard?token={token}")
    assert json.loads(await dashboard.recv())["type"] == "snapshot"
    viewer = await websockets.connect(f"{server.ws_url}/ws/events/sympo/watch?anon={ANON}")
    assert json.loads(await viewer.recv())["type"] == "hello"
    body = json.dumps({"name": "遅い 通信", "kana": "オソイ", "email": "slow@example.jp", "mode": "venue"}).encode()
    with in_flight(server.port, body) as slow:
        server.proc.send_signal(signal.SIGTERM)
        wait_for(lambda: refused(server.port))
        for socket_ in (dashboard, viewer):
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await socket_.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
        slow.sendall(body)
        answer = b""
        while chunk := slow.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 201"), answer[:200]
    return server.proc.wait(timeout=WAIT)


async def test_one_process_drains_on_sigterm(
    settings: Settings, event: Event, shared: dict[str, str], tmp_path: Path
) -> None:
    """SIGTERM: no new connections, the request in flight answered, dashboards and viewers told 1012."""
    server = start(tmp_path / "unused.db", free_port(), tmp_path / "serve.log", shared)
    try:
        await stopped_gracefully(server, settings, event)
    finally:
        server.stop()


async def test_workers_drain_on_sigterm(workers: ServerProcess, settings: Settings, event: Event) -> None:
    """The same drain with three processes, and the supervisor exits 0 once all children have."""
    children = workers.children()
    assert await stopped_gracefully(workers, settings, event) == 0
    assert not any(alive(pid) for pid in children)


async def test_a_request_that_never_ends_does_not_hold_the_stop(
    event: Event, shared: dict[str, str], tmp_path: Path
) -> None:
    """A client that never sends the body it announced is cut off after the grace, and the server exits."""
    server = start(tmp_path / "unused.db", free_port(), tmp_path / "serve.log", shared)
    try:
        with in_flight(server.port, b"{}" * 10) as stuck:
            server.proc.send_signal(signal.SIGTERM)
            server.proc.wait(timeout=GRACEFUL_SHUTDOWN_SECONDS + WAIT)
            while stuck.recv(4096):  # whatever uvicorn says when it cancels the request, then the end
                pass
    finally:
        server.stop()


def test_the_supervisor_gives_up_when_no_worker_can_start(tmp_path: Path) -> None:
    """Children that cannot open the database are not forked again for ever: the supervisor exits 1."""
    port = free_port()
    script = supervisor_script(port, 3)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database: " * 64)
    env = {**os.environ, "CHECKIN_DB": str(junk), "CHECKIN_QR_WORKERS": "0"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=WAIT)
    assert done.returncode == 1
    assert "could not start" in done.stderr


def test_loading_the_application_starts_no_thread() -> None:
    """What the parent loads before forking starts no thread (a fork copies no thread, only its locks)."""
    script = (
        "import threading; from checkin import serving; serving.preload(); "
        "assert threading.active_count() == 1, threading.enumerate()"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=WAIT)


TRIM_PROBE = """
import sys
from checkin.serving import release_free_memory

def rss_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

blocks = [bytes(2048) for _ in range(60_000)]  # ~120 MiB on the C heap (above the small-object allocator)
kept = blocks[::32]  # one in 32 stays: the heap cannot shrink from its top
del blocks
before = rss_kib()
released = release_free_memory()
print(released, before, rss_kib())
"""


def test_a_worker_gives_freed_heap_pages_back() -> None:
    """Freed memory kept in the C heap between live blocks goes back to the system (glibc's malloc_trim)."""
    out = subprocess.run([sys.executable, "-c", TRIM_PROBE], capture_output=True, text=True, check=True).stdout
    released, before, after = out.split()
    assert released == "True"
    assert int(before) - int(after) > 50 * 1024, out  # most of the ~116 MiB freed between the kept blocks

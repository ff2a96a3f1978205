"""`checkin serve` as a real subprocess, for tests that kill, restart or starve the server."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from checkin.settings import Settings
from tests.shared_redis import REDIS_URL

STARTUP_SECONDS = 60.0


@dataclass
class ServerProcess:
    """A running `checkin serve`: its process, base URL and the file its log goes to."""

    proc: subprocess.Popen[bytes]
    url: str
    port: int
    log: Path

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://")

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def children(self) -> list[int]:
        """Pids of this server's child processes (the QR workers)."""
        return children_of(self.proc.pid)

    def kill(self) -> None:
        """SIGKILL the server's own pid only, as a crash or the OOM killer would; children are left alone."""
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM and wait, as a service manager stops it."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)


def children_of(pid: int) -> list[int]:
    """Live child pids of `pid`, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def start(
    db: Path, port: int, log: Path, env: dict[str, str] | None = None, command: list[str] | None = None
) -> ServerProcess:
    """Start `checkin serve` (or `command`) on `port` and wait until it answers /healthz (or has exited)."""
    full_env = {
        **os.environ,
        "CHECKIN_DB": str(db),
        "CHECKIN_SQLITE_SYNCHRONOUS": "NORMAL",
        "CHECKIN_RATE_LIMITS": "off",
        "CHECKIN_OUTBOX": str(db.parent / "outbox"),
        **(env or {}),
    }
    with log.open("ab") as out:
        proc = subprocess.Popen(
            command or [sys.executable, "-m", "checkin.cli", "serve", "--port", str(port)],
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = ServerProcess(proc, f"http://127.0.0.1:{port}", port, log)
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline and proc.poll() is None:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(server.url + "/healthz", timeout=5).status_code == 200:
                return server
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"checkin serve did not answer on port {port}:\n{server.log_text()}")


@contextlib.contextmanager
def running(db: Path, port: int, log: Path, env: dict[str, str] | None = None) -> Iterator[ServerProcess]:
    """`checkin serve` for the block, stopped (SIGTERM) at its end if still running."""
    server = start(db, port, log, env)
    try:
        yield server
    finally:
        server.stop()


# Fixtures for tests of several server processes, which share PostgreSQL and Redis (import them by name;
# redis_prefix from tests.shared_redis too).
@pytest.fixture
def backend() -> str:
    """Several processes serve one PostgreSQL database (the single-process tests use it too)."""
    return "postgresql"


@pytest.fixture
def shared(settings: Settings, redis_prefix: str) -> dict[str, str]:
    """The environment of servers on the test's PostgreSQL database and its own Redis keys."""
    return {
        "CHECKIN_DB": settings.db_url,
        "CHECKIN_REDIS_URL": REDIS_URL,
        "CHECKIN_REDIS_PREFIX": redis_prefix,
        "CHECKIN_QR_WORKERS": "0",
    }

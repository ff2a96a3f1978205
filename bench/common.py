"""Helpers for benchmarks: a real `checkin serve` in a subprocess, machine facts, medians."""

from __future__ import annotations

import contextlib
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx


def machine() -> str:
    """One line naming this machine: CPU model, cores, Python."""
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def spawn_server(
    db: Path, env: dict[str, str] | None = None, port: int | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """Start `checkin serve` on a free port in a subprocess and wait until it answers; (process, base URL)."""
    port = port or free_port()
    full_env = {**os.environ, "CHECKIN_DB": str(db), **(env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "checkin.cli", "serve", "--port", str(port)],
        env=full_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/healthz").status_code == 200:
                break
        time.sleep(0.1)
    return proc, url


@contextlib.contextmanager
def server(db: Path, env: dict[str, str] | None = None, port: int | None = None) -> Iterator[str]:
    """`checkin serve` on a free port in a subprocess; yields its base URL."""
    with server_process(db, env, port) as (url, _proc):
        yield url


@contextlib.contextmanager
def server_process(
    db: Path, env: dict[str, str] | None = None, port: int | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Like `server`, also yielding the process (to read its memory and CPU time)."""
    proc, url = spawn_server(db, env, port)
    try:
        yield url, proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], pct: float) -> float:
    """The pct-th percentile (nearest rank) of values."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]

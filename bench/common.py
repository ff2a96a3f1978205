"""Helpers for benchmarks: a real `checkin serve` in a subprocess, machine facts, medians, and a steady-rate
load of HTTP requests from many keep-alive clients spread over several client processes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import httpx

T = TypeVar("T")


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
    db: Path | str, env: dict[str, str] | None = None, port: int | None = None, workers: int = 1
) -> tuple[subprocess.Popen[bytes], str]:
    """Start `checkin serve` (with `workers` processes: `--workers`) on a free port in a subprocess and wait
    until it answers; (process, base URL). `db` is an SQLite file or a postgresql:// URL."""
    port = port or free_port()
    # Benchmarks load one server from this one address: per-address limits off unless a benchmark says otherwise.
    full_env = {**os.environ, "CHECKIN_DB": str(db), "CHECKIN_RATE_LIMITS": "off", **(env or {})}
    command = [sys.executable, "-m", "checkin.cli", "serve", "--port", str(port)]
    proc = subprocess.Popen(
        [*command, "--workers", str(workers)] if workers > 1 else command,
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
def server(db: Path | str, env: dict[str, str] | None = None, port: int | None = None) -> Iterator[str]:
    """`checkin serve` on a free port in a subprocess; yields its base URL."""
    with server_process(db, env, port) as (url, _proc):
        yield url


@contextlib.contextmanager
def server_process(
    db: Path | str, env: dict[str, str] | None = None, port: int | None = None, workers: int = 1
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Like `server`, also yielding the process (to read its memory and CPU time)."""
    proc, url = spawn_server(db, env, port, workers)
    try:
        yield url, proc
    finally:
        proc.terminate()
        proc.wait(timeout=40)


def children(pid: int) -> list[int]:
    """The direct child processes of `pid` (the workers of `checkin serve --workers`, the QR renderers)."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def cpu_seconds(*pids: int) -> float:
    """User + system CPU time these processes have used so far (a process that has ended counts 0)."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def repeated(one_run: Callable[[], T], runs: int) -> list[T]:
    """`runs` runs of a bench, each announced with the load average before it and printed when done."""
    results = []
    for number in range(runs):
        print(f"load average before run {number + 1}: {os.getloadavg()}", flush=True)
        result = one_run()
        results.append(result)
        print(f"run {number + 1}: {result}", flush=True)
    return results


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and of all its descendants that are still running."""
    return cpu_seconds(pid) + sum(tree_cpu_seconds(child) for child in children(pid))


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], pct: float) -> float:
    """The pct-th percentile (nearest rank) of values."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


# -- steady rate: each client on its own keep-alive connection, sending at planned times


@dataclass(frozen=True)
class Sample:
    """One request of a paced load: latency from its planned time and from sending, and its answer."""

    due_ms: float
    sent_ms: float
    done_at: float  # wall clock (time.time) when the answer arrived
    status: int
    body: bytes


def post_request(url: str, path: str, payload: object, headers: dict[str, str] | None = None) -> bytes:
    """The raw bytes of an HTTP/1.1 keep-alive POST of `payload` as JSON."""
    body = json.dumps(payload).encode()
    lines = [f"POST {path} HTTP/1.1", f"Host: {urlsplit(url).netloc}", "Content-Type: application/json"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> tuple[int, bytes]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
    return status, await reader.readexactly(length)


async def _client(url: str, requests: list[bytes], first_due: float, interval: float, wall: float) -> list[Sample]:
    """One client: sends its requests at fixed times (perf_counter), each after the previous answer."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    out = []
    for number, request in enumerate(requests):
        due = first_due + number * interval
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        sent = time.perf_counter()
        status, payload = await _exchange(reader, writer, request)
        done = time.perf_counter()
        out.append(Sample((done - max(due, sent - 1e-3)) * 1000, (done - sent) * 1000, done + wall, status, payload))
    writer.close()
    return out


def _paced_worker(
    url: str, request_lists: list[list[bytes]], start_at: float, offsets: list[float], interval: float
) -> list[Sample]:
    async def run() -> list[Sample]:
        wall = time.time() - time.perf_counter()
        base = start_at - wall
        jobs = [_client(url, r, base + o, interval, wall) for r, o in zip(request_lists, offsets, strict=True)]
        return [sample for samples in await asyncio.gather(*jobs) for sample in samples]

    return asyncio.run(run())


def paced(url: str, request_lists: list[list[bytes]], rate: float, processes: int) -> list[Sample]:
    """Send each client's requests (one list per client, one keep-alive connection each) so that all
    clients together send `rate` requests per second, evenly staggered, from `processes` client processes."""
    clients = len(request_lists)
    interval = clients / rate
    start_at = time.time() + 1.5
    with ProcessPoolExecutor(processes) as pool:
        futures = []
        for proc in range(processes):
            mine = range(proc, clients, processes)
            offsets = [k * interval / clients for k in mine]
            lists = [request_lists[k] for k in mine]
            futures.append(pool.submit(_paced_worker, url, lists, start_at, offsets, interval))
        samples = [sample for future in futures for sample in future.result()]
    return samples


def paced_summary(samples: Sequence[Sample], rate: float) -> dict[str, float]:
    """Requests, non-2xx answers, latency percentiles (ms) and the rate achieved (requests/s, from the
    first planned send to the last answer) of a paced load planned at `rate`."""
    sent_ms = [s.sent_ms for s in samples]
    planned_start = min(s.done_at - s.due_ms / 1000 for s in samples)
    return {
        "requests": len(samples),
        "non2xx": sum(not 200 <= s.status < 300 for s in samples),
        "p50": percentile(sent_ms, 50),
        "p99": percentile(sent_ms, 99),
        "p99_from_due": percentile([s.due_ms for s in samples], 99),
        "max": max(sent_ms),
        "rate": len(samples) / (max(s.done_at for s in samples) - planned_start),
        "planned_rate": rate,
    }

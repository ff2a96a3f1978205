"""10,000 concurrent viewer websockets on one `checkin serve` process.

A join storm of 10,000 viewers in 30 s (1,000 registrants by ticket, 9,000 anonymous), driven by
several client processes; then the server's memory, its CPU at rest with only websocket pings going,
and the time until `online.now` is exact (10,000) and, once everyone has left, back to 0.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import resource
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.common import machine, median, percentile, server_process
from bench.viewer_client import Viewer, handshake
from checkin.demo import generated_applications
from checkin.models import Event, Mode
from checkin.storage import Database
from checkin.storage.events import create_event
from checkin.storage.registrants import register
from checkin.storage.viewing import online_figures
from tests.utils import EVENT

VIEWERS = int(os.environ.get("BENCH_VIEWERS", "10000"))
REGISTRANTS = VIEWERS // 10
STORM_SECONDS = 30.0
REST_SECONDS = 60.0
CLIENT_PROCESSES = 2
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
STATE: dict[str, object] = {"type": "state", "watching": True}


def seed(db_path: Path, registrants: int = REGISTRANTS) -> tuple[Event, list[str]]:
    """The bench event (anonymous viewing allowed) and its registrants' ticket codes."""
    db = Database(db_path, "NORMAL")
    db.open()
    try:
        event = db.write_sync(create_event, replace(EVENT, slug="bench", capacity=0), time.time())

        def register_all(conn: Any) -> list[str]:
            codes = []
            for app in generated_applications(registrants, seed=7):
                result = register(conn, event, replace(app, mode=Mode.ONLINE), time.time(), source="import")
                codes.append(result.ticket.code if result.ticket else "")
            return codes

        return event, db.write_sync(register_all)
    finally:
        db.close()


def queries(codes: list[str], viewers: int = VIEWERS) -> list[str]:
    """One query string per viewer: the registrants' tickets, then anonymous browser ids."""
    anonymous = [f"anon=bench{number:016d}" for number in range(viewers - len(codes))]
    return [f"ticket={code}" for code in codes] + anonymous


def client(url: str, jobs: list[tuple[str, float]], results: Any, stop: Any) -> None:
    """A client process: join at the given times, report, hold the sockets until told, then leave."""
    asyncio.run(_client(url, jobs, results, stop))


async def _client(url: str, jobs: list[tuple[str, float]], results: Any, stop: Any) -> None:
    loop = asyncio.get_running_loop()
    parts = urlsplit(url)
    viewers: list[Viewer] = []
    errors: Counter[str] = Counter()
    latencies: list[float] = []

    async def join(query: str, at: float) -> None:
        await asyncio.sleep(max(0.0, at - time.time()))
        started = time.perf_counter()
        viewer = Viewer(handshake(parts.netloc, f"{parts.path}?{query}"), STATE)
        try:
            await loop.create_connection(lambda: viewer, parts.hostname, parts.port)
            await asyncio.wait_for(viewer.joined, 60)
        except Exception as exc:
            errors[type(exc).__name__] += 1
            return
        latencies.append(time.perf_counter() - started)
        viewers.append(viewer)

    await asyncio.gather(*(join(query, at) for query, at in jobs))
    results.put(("joined", len(viewers), dict(errors), latencies))
    await loop.run_in_executor(None, stop.wait)
    dropped = sum(1 for viewer in viewers if viewer.closed.done())
    await asyncio.gather(*(viewer.leave() for viewer in viewers))
    results.put(("left", dropped))


def process_times(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory(pid: int) -> dict[str, float]:
    """Resident memory now and at its highest (VmRSS, VmHWM) in MiB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in {"VmRSS", "VmHWM"}:
            values[name] = int(rest.split()[0]) / 1024
    return values


def settle(db_path: Path, event: Event, target: int, timeout: float = 120.0) -> tuple[float, int]:
    """Seconds until `online.now` equals target (polled from the database), and the last value seen."""
    db = Database(db_path, "NORMAL")
    started = time.monotonic()
    now = -1
    while time.monotonic() - started < timeout:
        now = db.read_sync(online_figures, event.id, time.time()).now
        if now == target:
            break
        time.sleep(0.2)
    db.close()
    return time.monotonic() - started, now


@dataclass
class Run:
    joined: int
    errors: dict[str, int]
    join_p50_ms: float
    join_p99_ms: float
    server_cpu_per_join_ms: float
    settle_join_s: float
    now_after_join: int
    rss_idle_mib: float
    rss_10k_mib: float
    rss_peak_mib: float
    cpu_rest_pct: float
    dropped_at_rest: int
    settle_leave_s: float
    now_after_leave: int
    peak: int
    load_average: float


def one_run() -> Run:
    with tempfile.TemporaryDirectory() as folder:
        db_path = Path(folder) / "bench.db"
        event, codes = seed(db_path)
        with server_process(db_path, {"CHECKIN_SQLITE_SYNCHRONOUS": "NORMAL"}) as (url, proc):
            rss_idle = memory(proc.pid)["VmRSS"]
            ws_url = url.replace("http://", "ws://") + f"/ws/events/{event.slug}/watch"
            start = time.time() + 2.0
            spacing = STORM_SECONDS / VIEWERS
            jobs = [(query, start + index * spacing) for index, query in enumerate(queries(codes))]
            results: Any = mp.Queue()
            stop = mp.Event()
            workers = [
                mp.Process(target=client, args=(ws_url, jobs[number::CLIENT_PROCESSES], results, stop))
                for number in range(CLIENT_PROCESSES)
            ]
            cpu_start = process_times(proc.pid)
            for worker in workers:
                worker.start()
            reports = [results.get() for _ in workers]
            settle_join, now_after_join = settle(db_path, event, VIEWERS)
            cpu_storm = process_times(proc.pid) - cpu_start
            rss_10k = memory(proc.pid)
            cpu_before = process_times(proc.pid)
            time.sleep(REST_SECONDS)
            cpu_rest = (process_times(proc.pid) - cpu_before) / REST_SECONDS * 100
            stop.set()
            dropped = sum(results.get()[1] for _ in workers)
            for worker in workers:
                worker.join()
            settle_leave, now_after_leave = settle(db_path, event, 0)
            peak = Database(db_path, "NORMAL").read_sync(online_figures, event.id, time.time()).peak
    latencies = [latency for report in reports for latency in report[3]]
    errors: Counter[str] = Counter()
    for report in reports:
        errors.update(report[2])
    return Run(
        joined=sum(report[1] for report in reports),
        errors=dict(errors),
        join_p50_ms=statistics.median(latencies) * 1000,
        join_p99_ms=percentile(latencies, 99) * 1000,
        server_cpu_per_join_ms=cpu_storm / max(1, len(latencies)) * 1000,
        settle_join_s=settle_join,
        now_after_join=now_after_join,
        rss_idle_mib=rss_idle,
        rss_10k_mib=rss_10k["VmRSS"],
        rss_peak_mib=rss_10k["VmHWM"],
        cpu_rest_pct=cpu_rest,
        dropped_at_rest=dropped,
        settle_leave_s=settle_leave,
        now_after_leave=now_after_leave,
        peak=peak,
        load_average=os.getloadavg()[1],  # the machine is shared: how busy it was over the last 5 minutes
    )


def main() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the server and the clients inherit it
    runs = []
    for number in range(RUNS):
        run = one_run()
        runs.append(run)
        print(f"run {number + 1}: {run}", flush=True)
    print(f"\n{date.today().isoformat()} · {machine()} · {VIEWERS} viewers, {RUNS} runs (medians)")
    for name in Run.__dataclass_fields__:
        values = [getattr(run, name) for run in runs]
        shown = values[0] if isinstance(values[0], dict) else median(values)
        print(f"  {name}: {shown}" + (f"  (runs: {values})" if not isinstance(values[0], dict) else ""))


if __name__ == "__main__":
    main()

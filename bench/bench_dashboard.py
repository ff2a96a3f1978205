"""Dashboard: from a scan's answer to the snapshot that shows it, and what each extra dashboard costs.

Latency. A real `checkin serve`; one process holds 99 dashboards, another sends first-time scans at
200/s through the scan API from four kiosks. The probe (this process) is the 100th dashboard and a
fifth kiosk: it scans one ticket, notes when the answer came, and waits for the first snapshot whose
count of its kiosk's scans includes it — its scans are sequential, so that count identifies them exactly.

Cost. 0…1,000 dashboards connected while scans arrive at 20/s (so about five snapshots a second go
out): the server's CPU time and resident memory, and their growth per dashboard.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import queue
import random
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from bench import common
from checkin.models import Event, Mode, Role
from checkin.registration import Application
from checkin.storage import Database
from checkin.storage.events import create_event
from checkin.storage.registrants import register
from checkin.storage.staff import create_token
from checkin.storage.viewing import end_viewing, start_viewing

SLUG = "bench"
LOAD_KIOSKS = 4
RATE = 200.0
DASHBOARDS = 100
WARMUP = 3.0
PROBE_SECONDS = 60.0
PHASE_SPAN = 1.0  # a whole number of every interval measured (5 × 200 ms, 8 × 125 ms)
RUNS = 3
# (snapshot interval, background scans/s): the default and a faster interval in a rush, and a quiet door
CASES = ((0.2, RATE), (0.125, RATE), (0.2, 0.0))
COST_STEPS = (1, 100, 250, 500, 1000)
COST_RATE = 20.0
COST_WINDOW = 10.0
HALL = 3000  # a large hall; the door cycles through it, everyone in, then everyone out, and so on
PROBE_POOL = 500
ENV = {"CHECKIN_QR_WORKERS": "0"}


@dataclass(frozen=True)
class Setup:
    hall: list[str]
    probe_codes: list[str]
    kiosk_tokens: list[str]
    probe_token: str
    dashboard_token: str


def seed(path: Path, count: int) -> Setup:
    """An event under way with `count` ticket holders, kiosk and dashboard tokens, and 3 hours of viewers."""
    db = Database(path, "NORMAL")
    db.open()
    try:
        now = time.time()
        event = db.write_sync(create_event, Event(0, SLUG, "ベンチマーク", now - 7200, now + 7200, count + 10), now)

        def people(conn: Any, first: int, size: int) -> list[str]:
            codes = []
            for n in range(first, first + size):
                person = Application(f"参加 {n}", "サンカ", f"p{n}@example.jp", "", Mode.VENUE)
                ticket = register(conn, event, person, now, enforce_open=False).ticket
                assert ticket is not None
                codes.append(ticket.code)
            return codes

        codes = [
            code for first in range(0, count, 2000) for code in db.write_sync(people, first, min(2000, count - first))
        ]
        tokens = [db.write_sync(create_token, event.id, Role.KIOSK, f"受付{n + 1}", now)[1] for n in range(LOAD_KIOSKS)]
        probe = db.write_sync(create_token, event.id, Role.KIOSK, "probe", now)[1]
        dashboard = db.write_sync(create_token, event.id, Role.DASHBOARD, "bench", now)[1]
        db.write_sync(viewers, event.id, now)
    finally:
        db.close()
    return Setup(codes[:HALL], codes[HALL:], tokens, probe, dashboard)


def viewers(conn: Any, event_id: int, now: float) -> None:
    """600 anonymous viewers over the last three hours, 150 still watching: a full per-minute series."""
    rng = random.Random(7)
    for n in range(600):
        start = now - rng.uniform(60, 3 * 3600)
        start_viewing(conn, event_id, f"anon:{n:032d}", None, start)
        if n >= 150:
            end_viewing(conn, event_id, f"anon:{n:032d}", min(now, start + rng.uniform(60, 3600)))


# --- the load: scans at a fixed rate (a process of its own) -------------------------------------------


Scan = tuple[str, str]  # (code, direction)


def door(codes: list[str], first: int, count: int) -> list[Scan]:
    """Scans number first… of a door that cycles through `codes`: a pass of entries, then a pass of exits."""
    return [(codes[k % len(codes)], "in" if (k // len(codes)) % 2 == 0 else "out") for k in range(first, first + count)]


async def _post(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str, token: str, body: bytes) -> int:
    """One POST on a kept-alive connection; its status (a bare client: httpx costs more than the server)."""
    head = f"POST {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n"
    head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    writer.write(head.encode() + body)
    status = int((await reader.readline()).split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


async def _scan_load(
    urls: list[str], tokens: list[str], scans: list[Scan], rate: float, start_at: float
) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    jobs: asyncio.Queue[tuple[int, Scan, float] | None] = asyncio.Queue()

    async def worker(url: str) -> None:
        nonlocal errors
        host, port = url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        while (job := await jobs.get()) is not None:
            index, (code, direction), due = job
            body = json.dumps({"code": code, "direction": direction, "scan_id": str(uuid.uuid4())}).encode()
            status = await _post(reader, writer, f"/api/v1/events/{SLUG}/scans", tokens[index % len(tokens)], body)
            latencies.append(time.time() - due)  # from when it was due: waiting for a free connection counts
            errors += status != 200
        writer.close()

    workers = [asyncio.create_task(worker(urls[n % len(urls)])) for n in range(32)]
    for index, scan in enumerate(scans):
        due = start_at + index / rate
        await asyncio.sleep(max(0.0, due - time.time()))
        jobs.put_nowait((index, scan, due))
    for _ in workers:
        jobs.put_nowait(None)
    await asyncio.gather(*workers)
    elapsed = time.time() - start_at
    return {"sent": len(scans), "rate": len(scans) / elapsed, "errors": errors, "scan_p50_ms": _ms(latencies, 50)}


def scan_load(urls: list[str], tokens: list[str], scans: list[Scan], rate: float, start_at: float, out: Any) -> None:
    """Scans at `rate` from 32 connections spread over the servers at `urls` (one after another)."""
    out.put(asyncio.run(_scan_load(urls, tokens, scans, rate, start_at)))


# --- dashboards that read everything (a process of their own) ------------------------------------------


async def _dashboards(url: str, token: str, count: int, seconds: float, ready: Any) -> dict[str, float]:
    received = 0
    size = 0

    async def follow(ws: ClientConnection) -> None:
        nonlocal received, size
        async for message in ws:
            received += 1
            size = len(message)

    sockets = []
    for _ in range(count):
        sockets.append(await connect(f"{url}/ws/events/{SLUG}/dashboard?token={token}", compression=None))
    tasks = [asyncio.create_task(follow(ws)) for ws in sockets]
    ready.put(count)
    start = time.time()
    await asyncio.sleep(seconds)
    per_second = received / (time.time() - start) / max(1, count)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    return {"per_dashboard_per_s": per_second, "bytes": size}


def dashboards(url: str, token: str, count: int, seconds: float, ready: Any, out: Any) -> None:
    out.put(asyncio.run(_dashboards(url, token, count, seconds, ready)))


# --- the probe: a kiosk and a dashboard in one (this process) ------------------------------------------


async def _probe(
    dashboard_url: str, scan_url: str, setup: Setup, scans: list[Scan], start_at: float, seconds: float
) -> tuple[list[float], int]:
    """The probe follows the dashboard at one server and scans through another (or the same): the latency of
    each of its scans answered ok, and how many were refused."""
    arrivals: list[tuple[float, int]] = []  # (when received, the probe kiosk's scan count in it)
    arrived = asyncio.Event()
    ws_url = dashboard_url.replace("http://", "ws://") + f"/ws/events/{SLUG}/dashboard?token={setup.dashboard_token}"
    rng = random.Random(11)
    latencies: list[float] = []
    refused = 0
    async with connect(ws_url, compression=None) as ws, httpx.AsyncClient(base_url=scan_url, timeout=30) as http:

        async def read() -> None:
            async for message in ws:
                received = time.perf_counter()
                kiosks = json.loads(message)["kiosks"]
                arrivals.append((received, next((k["scans"] for k in kiosks if k["name"] == "probe"), 0)))
                arrived.set()

        reader = asyncio.create_task(read())
        await arrived.wait()
        baseline, seen = arrivals[-1][1], 0
        await asyncio.sleep(max(0.0, start_at + WARMUP - time.time()))
        headers = {"authorization": f"Bearer {setup.probe_token}"}
        number = 0  # the probe's scans answered ok so far
        for code, direction in scans:
            if time.time() > start_at + WARMUP + seconds:
                break
            body = {"code": code, "direction": direction, "scan_id": str(uuid.uuid4())}
            answer = await http.post(f"/api/v1/events/{SLUG}/scans", json=body, headers=headers)
            answered = time.perf_counter()
            if answer.status_code == 200:  # a refused scan (503 from an overloaded database) is never counted
                number += 1
                while True:  # the first snapshot (even one that beat the HTTP answer here) that counts this scan
                    found = next((i for i in range(seen, len(arrivals)) if arrivals[i][1] >= baseline + number), None)
                    if found is not None:
                        break
                    arrived.clear()
                    await asyncio.wait_for(arrived.wait(), 60)
                seen = found
                latencies.append(max(0.0, arrivals[found][0] - answered))
            else:
                refused += 1
            # A pause uniform over whole snapshot intervals, so scans fall at any phase of the schedule
            # (a short fixed pause after each snapshot would always land early in the next interval).
            await asyncio.sleep(rng.uniform(0.0, PHASE_SPAN))
        reader.cancel()
    return latencies, refused


def _wait_ready(ready: Any, processes: list[Any]) -> None:
    """Wait until every dashboards process has connected its sockets (or fail if one died)."""
    waiting = len(processes)
    while waiting:
        try:
            ready.get(timeout=1)
            waiting -= 1
        except queue.Empty:
            if any(not process.is_alive() for process in processes):
                raise RuntimeError("a dashboards process died") from None


def latency_run(
    urls: list[str], setup: Setup, rate: float, load_scans: list[Scan], probe_scans: list[Scan]
) -> dict[str, Any]:
    """One run: 99 reading dashboards spread over the servers at `urls`, scans at `rate` sent to them in turn,
    the probe following the first server's dashboard and scanning through the last."""
    ctx = multiprocessing.get_context("spawn")
    out, ready = ctx.Queue(), ctx.Queue()
    seconds = WARMUP + PROBE_SECONDS + 2
    # The probe's server holds one reader fewer, so that every server has the same number of dashboards.
    shares = [(DASHBOARDS - 1 + n) // len(urls) for n in range(len(urls))]
    readers = [
        ctx.Process(
            target=dashboards,
            args=(url.replace("http://", "ws://"), setup.dashboard_token, share, seconds + 3, ready, out),
        )
        for url, share in zip(urls, shares, strict=True)
        if share
    ]
    for process in readers:
        process.start()
    _wait_ready(ready, readers)
    start_at = time.time() + 1.0
    load = ctx.Process(target=scan_load, args=(urls, setup.kiosk_tokens, load_scans, rate or 1.0, start_at, out))
    load.start()
    latencies, refused = asyncio.run(_probe(urls[0], urls[-1], setup, probe_scans, start_at, PROBE_SECONDS))
    reports = [out.get(timeout=300) for _ in range(len(readers) + 1)]
    for process in [*readers, load]:
        process.join()
    result: dict[str, Any] = {"samples": len(latencies), "p50_ms": _ms(latencies, 50), "p99_ms": _ms(latencies, 99)}
    result["probe_refused"] = refused
    result["latencies"] = latencies
    for report in reports:
        result.update(report)
    return result


# --- what each dashboard costs the server ---------------------------------------------------------------


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cost_step(url: str, pid: int, setup: Setup, count: int, scans: list[Scan]) -> dict[str, float]:
    """Server CPU (% of one core) and RSS with `count` dashboards while scans arrive at COST_RATE."""
    ctx = multiprocessing.get_context("spawn")
    out, ready = ctx.Queue(), ctx.Queue()
    ws_url = url.replace("http://", "ws://")
    chunks = [min(500, count - first) for first in range(0, count, 500)]
    readers = [
        ctx.Process(target=dashboards, args=(ws_url, setup.dashboard_token, size, COST_WINDOW + 4, ready, out))
        for size in chunks
    ]
    for process in readers:
        process.start()
    _wait_ready(ready, readers)
    start_at = time.time() + 0.5
    load = ctx.Process(target=scan_load, args=([url], setup.kiosk_tokens, scans, COST_RATE, start_at, out))
    load.start()
    time.sleep(2.0)
    cpu_before, wall_before = common.cpu_seconds(pid), time.monotonic()
    time.sleep(COST_WINDOW)
    cpu = 100 * (common.cpu_seconds(pid) - cpu_before) / (time.monotonic() - wall_before)
    rss = _rss_mib(pid)
    reports = [out.get(timeout=300) for _ in range(len(readers) + 1)]
    for process in [*readers, load]:
        process.join()
    rates = [r["per_dashboard_per_s"] for r in reports if "per_dashboard_per_s" in r]
    return {
        "dashboards": count,
        "cpu_pct": cpu,
        "rss_mib": rss,
        "snapshots_per_s": common.median(rates) if rates else 0,
    }


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares growth of y per unit of x."""
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / sum((x - mean_x) ** 2 for x, _ in points)


def _ms(values: list[float], pct: float) -> float:
    return round(1000 * common.percentile(values, pct), 1) if values else float("nan")


def latency_runs(db: Path, setup: Setup, case: tuple[float, float], counters: dict[str, int]) -> list[dict[str, Any]]:
    """RUNS latency runs against a server that makes at most one snapshot per `interval`, scans at `rate`."""
    interval, _rate = case
    with common.server(db, {**ENV, "CHECKIN_DASHBOARD_INTERVAL": str(interval)}) as url:
        return probe_runs([url], setup, case, counters)


def probe_runs(
    urls: list[str], setup: Setup, case: tuple[float, float], counters: dict[str, int]
) -> list[dict[str, Any]]:
    """RUNS latency runs against the servers at `urls`, the door going on where the last run left it."""
    interval, rate = case
    runs = []
    for run in range(RUNS):
        count = int(rate * (WARMUP + PROBE_SECONDS + 2))
        load = door(setup.hall, counters["door"], count)
        probe = door(setup.probe_codes, counters["probe"], 1000)
        runs.append(latency_run(urls, setup, rate, load, probe))
        counters["door"] += count
        counters["probe"] += runs[-1]["samples"] + runs[-1]["probe_refused"]
        shown = {key: value for key, value in runs[-1].items() if key != "latencies"}
        print(f"interval {interval} s, {rate:.0f} scans/s, run {run + 1}: {shown}", flush=True)
    return runs


def cost_steps(db: Path, setup: Setup, counters: dict[str, int]) -> list[dict[str, float]]:
    """The server's CPU and memory at each number of dashboards."""
    proc, url = common.spawn_server(db, ENV)
    try:
        steps = []
        for count in COST_STEPS:
            batch = door(setup.hall, counters["door"], int(COST_RATE * (COST_WINDOW + 3)))
            counters["door"] += len(batch)
            steps.append(cost_step(url, proc.pid, setup, count, batch))
            print(f"cost: {steps[-1]}", flush=True)
        return steps
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "bench.db"
        started = time.time()
        setup = seed(db, HALL + PROBE_POOL)
        print(f"seeded {HALL + PROBE_POOL} ticket holders in {time.time() - started:.0f} s", flush=True)
        counters = {"door": 0, "probe": 0}
        runs = {case: latency_runs(db, setup, case, counters) for case in CASES}
        steps = cost_steps(db, setup, counters)
    print(f"\n### Dashboard ({date.today().isoformat()})\n\n{common.machine()}\n")
    report_latencies(runs)
    report_cost(steps)


def report_latencies(runs: dict[tuple[float, float], list[dict[str, Any]]]) -> None:
    """The latency table: one line per (interval, rate), probes pooled over its runs."""
    print(f"Scan answered → the snapshot that counts it at a dashboard, {DASHBOARDS} dashboards connected;")
    print(f"{RUNS} runs of {PROBE_SECONDS:.0f} s per line, probes pooled (per run: p50/p99).\n")
    print("| other scans | at most one snapshot per | probes | p50 | p99 | per run | scans answered in (p50) |")
    print("| ---: | ---: | ---: | ---: | ---: | --- | ---: |")
    for case, results in runs.items():
        report_latency(case, results)


def report_latency(case: tuple[float, float], runs: list[dict[str, Any]]) -> None:
    interval, rate = case
    pooled = [latency for r in runs for latency in r["latencies"]]
    achieved = f"{common.median([r['rate'] for r in runs]):.0f}/s" if rate else "none"
    per_run = "; ".join(f"{r['p50_ms']:.0f}/{r['p99_ms']:.0f}" for r in runs)
    scans = f"{common.median([r['scan_p50_ms'] for r in runs]):.0f} ms" if rate else "–"
    print(
        f"| {achieved} | {interval * 1000:.0f} ms | {len(pooled)} | **{_ms(pooled, 50):.0f} ms** |"
        f" **{_ms(pooled, 99):.0f} ms** | {per_run} | {scans} |"
    )


def report_cost(steps: list[dict[str, float]]) -> None:
    print("\n| dashboards | server CPU (% of a core) | server RSS (MiB) | snapshots/s at each |")
    print("| ---: | ---: | ---: | ---: |")
    for step in steps:
        print(
            f"| {step['dashboards']} | {step['cpu_pct']:.1f} | {step['rss_mib']:.1f} | {step['snapshots_per_s']:.1f} |"
        )
    cpu = slope([(s["dashboards"], s["cpu_pct"]) for s in steps])
    rss = slope([(s["dashboards"], s["rss_mib"]) for s in steps])
    print(f"\nEach extra dashboard: +{cpu * 100:.1f} % of a core per 100 dashboards, +{rss * 1024:.0f} KiB of memory.")


if __name__ == "__main__":
    main()

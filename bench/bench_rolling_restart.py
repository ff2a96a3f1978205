"""A rolling restart of 3 servers behind nginx (deploy/nginx.conf) on PostgreSQL + Redis, under load.

32 kiosks send 200 first scans a second through nginx (a kiosk resends a scan that got no answer or a 5xx,
with the same scan_id, as the kiosk app does) while 2,000 anonymous viewers watch, each from its own
source address, coming back after a close as the watch page does. Each server in turn gets SIGTERM, is
waited for, started again on its port and waited for until healthy. Checked: every scan answered `ok` is
in the database; `online.now` (from `/stats` through nginx, every 0.25 s) never falls by more than the
viewers the restarting server held, nor for longer than they took to come back; exact figures after.

Run: `python -m bench rolling_restart` (BENCH_RUNS overrides the default).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import multiprocessing as mp
import os
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from bench import backends
from bench.bench_scans import KIOSKS, SLUG, Seeded, scans_logged_ok, seed
from bench.bench_viewers import queries
from bench.bench_viewers_scaled import Stats, client, collect, raise_nofile, source_address
from bench.common import machine, median, percentile, repeated
from checkin.models import Role
from checkin.storage import Engine
from checkin.storage.events import get_event
from checkin.storage.staff import create_token
from tests.serve_process import ServerProcess, start
from tests.test_nginx import NGINX, SELF_SIGNED, main_config, site_config
from tests.utils import free_port

SERVERS = 3
VIEWERS = 2_000
RATE = 200.0
STEADY = 15.0  # seconds of load before the first restart, between restarts and after the last
TICKETS = 30_000  # more than RATE × the run's length: every scan is a first scan
KIOSK_PROCESSES = 2
RUNS = int(os.environ.get("BENCH_RUNS", "1"))


# -- kiosks


@dataclass
class Door:
    """What the kiosks of one client process saw."""

    answered_ok: list[str] = field(default_factory=list)  # scan ids
    results: Counter[str] = field(default_factory=Counter)
    resent: Counter[str] = field(default_factory=Counter)  # why a scan was sent again
    latencies: list[float] = field(default_factory=list)  # first send → final answer, seconds


def kiosks(url: str, work: list[tuple[int, str, list[str]]], first_due: float, stop: Any, out: Any) -> None:
    """A client process: each (number, token, codes) a kiosk scanning at RATE / KIOSKS a second until `stop`."""
    out.put(asyncio.run(_kiosks(url, work, first_due, stop)))


async def _kiosks(url: str, work: list[tuple[int, str, list[str]]], first_due: float, stop: Any) -> Door:
    door = Door()
    interval = KIOSKS / RATE
    path = f"/api/v1/events/{SLUG}/scans"

    async def kiosk(number: int, token: str, codes: list[str]) -> None:
        headers = {"authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=url, headers=headers, verify=False, timeout=30) as http:
            for count, code in enumerate(codes):
                due = first_due + number * interval / KIOSKS + count * interval
                await asyncio.sleep(max(0.0, due - time.time()))
                if stop.is_set():
                    return
                await scan(http, code)

    async def scan(http: httpx.AsyncClient, code: str) -> None:
        scan_id, sent = uuid.uuid4().hex, time.monotonic()
        while True:
            try:
                response = await http.post(path, json={"code": code, "scan_id": scan_id})
            except httpx.HTTPError as exc:
                door.resent[type(exc).__name__] += 1
            else:
                if response.status_code < 500:
                    break
                door.resent[str(response.status_code)] += 1
            await asyncio.sleep(0.5)
        result = response.json().get("result", response.json().get("error", "?"))
        door.results[result] += 1
        door.latencies.append(time.monotonic() - sent)
        if result == "ok":
            door.answered_ok.append(scan_id)

    await asyncio.gather(*(kiosk(number, token, codes) for number, token, codes in work))
    return door


# -- the servers and nginx


@contextlib.contextmanager
def nginx(folder: Path, ports: list[int]) -> Iterator[str]:
    """deploy/nginx.conf in front of `ports` (a self-signed certificate); yields its https URL."""
    subprocess.run(
        [*SELF_SIGNED, "-keyout", str(folder / "privkey.pem"), "-out", str(folder / "fullchain.pem")],
        check=True,
        capture_output=True,
    )
    tls = free_port()
    (folder / "checkin.conf").write_text(site_config(folder, ports, free_port(), tls))
    # Each viewer holds two connections in nginx (the client's and the server's).
    whole = main_config(folder).replace("worker_connections 1024", f"worker_connections {4 * VIEWERS + 1024}")
    (folder / "nginx.conf").write_text(whole)
    proc = subprocess.Popen([NGINX, "-c", str(folder / "nginx.conf"), "-g", "daemon off;"])
    url = f"https://127.0.0.1:{tls}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/healthz", verify=False).status_code == 200:
                    break
            time.sleep(0.1)
        yield url
    finally:
        proc.send_signal(signal.SIGQUIT)
        proc.wait(timeout=30)


@dataclass
class Restart:
    """One server's restart and what the viewers saw of it."""

    stop_s: float  # SIGTERM → exited
    start_s: float  # exited → started again and healthy
    viewers_dropped: int
    came_back_s: float  # SIGTERM → the last of its viewers acknowledged again
    dip: int  # VIEWERS − the lowest online.now seen
    dip_s: float  # how long online.now stayed below VIEWERS


@dataclass
class Run:
    scans: int
    scans_per_s: float  # achieved, over the whole load (planned: RATE)
    answered_ok: int
    ok_missing_in_db: int
    results: dict[str, int]
    resent: dict[str, int]
    scan_p99_ms: float
    scan_max_ms: float
    restarts: list[Restart]
    highest_now: int
    now_after: int | None
    now_after_leaving: int | None
    load_average: tuple[float, float, float]


class Follow(threading.Thread):
    """`online.now` every 0.25 s in the background: (wall clock, value)."""

    def __init__(self, stats: Stats) -> None:
        super().__init__(daemon=True)
        self.stats = stats
        self.samples: list[tuple[float, int]] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            now = self.stats.now()
            if now is not None:
                self.samples.append((time.time(), now))
            time.sleep(0.25)


def restart(servers: list[ServerProcess], number: int, env: dict[str, str], folder: Path) -> tuple[float, float, float]:
    """SIGTERM server `number`, wait for it, start it again on its port; (stopped, exited, healthy)."""
    old = servers[number]
    stopped = time.time()
    old.stop()
    exited = time.time()
    servers[number] = start(folder / "unused.db", old.port, old.log, env)
    return stopped, exited, time.time()


def seen(samples: list[tuple[float, int]], since: float, until: float) -> tuple[int, float]:
    """The lowest `online.now` between two times and how long it stayed below VIEWERS."""
    window = [(at, now) for at, now in samples if since <= at <= until]
    lowest = min((now for _, now in window), default=VIEWERS)
    below = sum(b[0] - a[0] for a, b in itertools.pairwise(window) if a[1] < VIEWERS)
    return VIEWERS - lowest, below


def one_run() -> Run:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        seeded = seed(folder, TICKETS)
        with backends.shared_backends(seeded.db) as (db_url, redis_url, db):
            return restarts_under_load(folder, db_url, redis_url, db, seeded)


def restarts_under_load(folder: Path, db_url: str, redis_url: str, db: Engine, seeded: Seeded) -> Run:
    """Three servers and nginx on the seeded database; the run."""
    event = db.read_sync(get_event, SLUG)
    dashboard = db.write_sync(create_token, event.id, Role.DASHBOARD, "bench", time.time())[1]
    env = backends.shared_env(db_url, redis_url, CHECKIN_TRUSTED_PROXIES="127.0.0.1")
    servers = [start(folder / "unused.db", free_port(), folder / f"serve{n}.log", env) for n in range(SERVERS)]
    try:
        with nginx(folder, [server.port for server in servers]) as url:
            return under_load(url, db, servers, env, folder, seeded.codes, seeded.tokens, dashboard)
    finally:
        for server in servers:
            server.stop()


def under_load(
    url: str,
    db: Engine,
    servers: list[ServerProcess],
    env: dict[str, str],
    folder: Path,
    codes: list[str],
    tokens: list[str],
    dashboard: str,
) -> Run:
    stats = Stats(url, SLUG, dashboard, verify=False)
    ws_url = url.replace("https://", "wss://") + f"/ws/events/{SLUG}/watch"
    start_at = time.time() + 2.0
    jobs = [(q, source_address(i), start_at + i * 5.0 / VIEWERS) for i, q in enumerate(queries([], VIEWERS))]
    results: Any = mp.Queue()
    commands: Any = mp.Queue()
    hold = mp.Value("d", 0.0)
    viewers = mp.Process(target=client, args=(ws_url, jobs, hold, commands, results))
    viewers.start()
    results.get()
    stats.wait_for(VIEWERS)
    follow = Follow(stats)
    follow.start()
    out: Any = mp.Queue()
    stop = mp.Event()
    per_kiosk = len(codes) // KIOSKS
    work = [(k, token, codes[k * per_kiosk : (k + 1) * per_kiosk]) for k, token in enumerate(tokens)]
    first_due = time.time() + 1.0
    doors = [
        mp.Process(target=kiosks, args=(url, work[n::KIOSK_PROCESSES], first_due, stop, out))
        for n in range(KIOSK_PROCESSES)
    ]
    for process in doors:
        process.start()
    times: list[tuple[float, float, float]] = []
    for number in range(SERVERS):
        time.sleep(STEADY)
        times.append(restart(servers, number, env, folder))
    time.sleep(STEADY)
    stop.set()
    load_s = time.time() - first_due
    door = Door()
    for part in [out.get() for _ in doors]:
        door.answered_ok += part.answered_ok
        door.results.update(part.results)
        door.resent.update(part.resent)
        door.latencies += part.latencies
    for process in doors:
        process.join()
    follow.done.set()
    follow.join()
    _, now_after = stats.wait_for(VIEWERS, 30)
    pairs = collect([commands], results, 0.0)
    restarts = []
    for number, (stopped, exited, healthy) in enumerate(times):
        until = times[number + 1][0] if number + 1 < len(times) else time.time()
        mine = [(dropped, again) for dropped, again in pairs if stopped <= dropped <= exited + 1]
        back = max((again for _, again in mine), default=stopped)
        dip, dip_s = seen(follow.samples, stopped, until)
        restarts.append(Restart(exited - stopped, healthy - exited, len(mine), back - stopped, dip, dip_s))
    commands.put("leave")
    results.get()
    viewers.join()
    _, now_after_leaving = stats.wait_for(0, 60)
    on_disk = db.read_sync(scans_logged_ok)
    latencies = door.latencies
    return Run(
        scans=len(latencies),
        scans_per_s=len(latencies) / load_s,
        answered_ok=len(door.answered_ok),
        ok_missing_in_db=len(set(door.answered_ok) - on_disk),
        results=dict(door.results),
        resent=dict(door.resent),
        scan_p99_ms=percentile(latencies, 99) * 1000,
        scan_max_ms=max(latencies, default=0.0) * 1000,
        restarts=restarts,
        highest_now=max((now for _, now in follow.samples), default=0),
        now_after=now_after,
        now_after_leaving=now_after_leaving,
        load_average=os.getloadavg(),
    )


def main() -> None:
    raise_nofile()
    runs = repeated(one_run, RUNS)
    print(f"\n{date.today().isoformat()} · {machine()} · {SERVERS} servers behind nginx, {RUNS} runs (medians)")
    for name in ("scans_per_s", "answered_ok", "ok_missing_in_db", "scan_p99_ms", "scan_max_ms", "highest_now"):
        values = [getattr(run, name) for run in runs]
        print(f"  {name}: {median(values)}  (runs: {values})")
    for number in range(SERVERS):
        for name in Restart.__dataclass_fields__:
            values = [getattr(run.restarts[number], name) for run in runs]
            print(f"  restart {number + 1} {name}: {median(values):.2f}  (runs: {[round(v, 2) for v in values]})")


if __name__ == "__main__":
    main()

"""50,000 viewer websockets across the 4 processes of `checkin serve --workers 4` (PostgreSQL + Redis).

A join storm of VIEWERS viewers (a tenth by ticket, the rest anonymous) from several client processes,
each socket bound to its own source address in 127.0.0.0/8 (at most PER_ADDRESS sockets an address, so
no address runs out of ephemeral ports and no per-address cap is reached). Then: whether all joined
within 90 s, `online.now` exact (from `/stats`, as a dashboard reads it), the server's memory as RSS and
as PSS (parent + workers, /proc/<pid>/smaps_rollup), a private Redis's memory and its commands per join
(INFO commandstats, idle servers' rate taken off). Then two crashes: one worker killed with SIGKILL while
its viewers stay away for HOLD seconds (how long until they leave `online.now`, how long after they come
back until they count again), and one killed while they come back at once with the watch page's jitter
(`online.now` never above VIEWERS, and how long until it is exact again).

Run: `python -m bench viewers_scaled` (BENCH_VIEWERS, BENCH_RUNS override the defaults).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import os
import resource
import signal
import ssl
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import redis

from bench import backends
from bench.bench_viewers import STATE, queries, seed
from bench.common import cpu_seconds, free_port, machine, median, percentile, repeated
from bench.viewer_client import Watcher
from checkin.models import Event, Role
from checkin.storage import Engine
from checkin.storage.staff import create_token
from tests.serve_process import ServerProcess, children_of, start

VIEWERS = int(os.environ.get("BENCH_VIEWERS", "50000"))
WORKERS = 4
CLIENT_PROCESSES = 4
PER_ADDRESS = 100  # sockets bound to one source address
STORM_SECONDS = 60.0  # joins planned evenly over this long
JOIN_BOUND = 90.0  # the goal: everyone joined within this long of the storm's start
HOLD = 60.0  # the killed worker's viewers stay away this long (twice the 30 s bound) in the first crash
SETTLE_TIMEOUT = 180.0
REST = 30.0  # seconds with everyone watching, for the CPU at rest
RUNS = int(os.environ.get("BENCH_RUNS", "1"))
NOFILE = 20_000


def source_address(index: int) -> str:
    """The source address of viewer `index`: 127.a.b.1, PER_ADDRESS viewers each."""
    block = index // PER_ADDRESS
    return f"127.{1 + block // 250}.{1 + block % 250}.1"


def say(text: str) -> None:
    """A progress line (these runs take minutes)."""
    print(f"{time.strftime('%H:%M:%S')} {text}", flush=True)


def raise_nofile() -> int:
    """Open files allowed to this process and its children: as many as the hard limit lets."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for wanted in (max(NOFILE, hard), hard):
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
            return wanted
    return hard


# -- client processes


def client(url: str, jobs: list[tuple[str, str, float]], hold: Any, commands: Any, results: Any) -> None:
    """A client process: join at the planned times, then answer `report` and `leave` commands.

    (query, source address, when) per viewer; `hold` is a shared value, the seconds a dropped viewer waits
    before it comes back; a wss:// url is reached over TLS without checking the certificate."""
    raise_nofile()
    asyncio.run(_client(url, jobs, hold, commands, results))


async def _client(url: str, jobs: list[tuple[str, str, float]], hold: Any, commands: Any, results: Any) -> None:
    loop = asyncio.get_running_loop()
    parts = httpx.URL(url)
    tls = None
    if parts.scheme == "wss":
        tls = ssl.create_default_context()
        tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE
    target = (parts.host, parts.port or (443 if tls else 80))
    watchers = [
        Watcher(target, f"{parts.path}?{query}", local, STATE, lambda: float(hold.value), tls)
        for query, local, _ in jobs
    ]
    tasks = [asyncio.create_task(w.run(at)) for w, (_, _, at) in zip(watchers, jobs, strict=True)]
    while sum(bool(w.joins) for w in watchers) < len(watchers) and time.time() < jobs[-1][2] + SETTLE_TIMEOUT:
        await asyncio.sleep(0.2)
    results.put(("joined", first_joins(watchers, jobs), failures(watchers)))
    while (command := await loop.run_in_executor(None, commands.get)) != "leave":
        results.put(("report", comebacks(watchers, float(command))))
    await asyncio.gather(*(w.leave() for w in watchers))
    for task in tasks:
        task.cancel()
    results.put(("left", sum(w.viewer is not None and not w.viewer.closed.done() for w in watchers)))


def first_joins(watchers: list[Watcher], jobs: list[tuple[str, str, float]]) -> list[tuple[float, float]]:
    """(planned, acknowledged) wall-clock times of each viewer's first join."""
    return [(at, w.joins[0]) for w, (_, _, at) in zip(watchers, jobs, strict=True) if w.joins]


def failures(watchers: list[Watcher]) -> dict[str, int]:
    return dict(Counter(reason for w in watchers for reason in w.failures))


def comebacks(watchers: list[Watcher], since: float) -> list[tuple[float, float]]:
    """(dropped, acknowledged again) for every drop since `since`; NaN for one not back yet."""
    out = []
    for w in watchers:
        for dropped in (d for d in w.drops if d >= since):
            out.append((dropped, min((j for j in w.joins if j > dropped), default=float("nan"))))
    return out


def collect(commands: list[Any], results: Any, since: float) -> list[tuple[float, float]]:
    """Every client process's comebacks since `since`."""
    for queue in commands:
        queue.put(str(since))
    return [pair for _ in commands for pair in results.get()[1]]


# -- the server, Redis and what to read from them


def memory(pid: int) -> tuple[float, float]:
    """(RSS, PSS) of a process in MiB, from /proc/<pid>/smaps_rollup."""
    values = {"Rss": 0.0, "Pss": 0.0}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in values:
            values[name] = int(rest.split()[0]) / 1024
    return values["Rss"], values["Pss"]


def server_pids(server: ServerProcess) -> list[int]:
    """The supervisor and its workers."""
    return [server.proc.pid, *sorted(children_of(server.proc.pid))]


def open_files(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def redis_calls(client: redis.Redis) -> Counter[str]:
    """Calls so far per command (INFO commandstats counts those scripts run too), the bench's own INFO aside."""
    stats = client.info("commandstats")
    calls = Counter({name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()})
    del calls["info"]
    return calls


def redis_used(client: redis.Redis) -> float:
    return int(client.info("memory")["used_memory"]) / 2**20


class Stats:
    """`online.now` as the dashboard's `/stats` shows it, asked of whichever worker takes the connection."""

    def __init__(self, url: str, slug: str, token: str, verify: bool = True) -> None:
        headers = {"authorization": f"Bearer {token}"}
        self.client = httpx.Client(base_url=url, headers=headers, timeout=30, verify=verify)
        self.path = f"/api/v1/events/{slug}/stats"

    def now(self) -> int | None:
        try:
            response = self.client.get(self.path)
        except httpx.HTTPError:
            return None
        return int(response.json()["online"]["now"]) if response.status_code == 200 else None

    def wait_for(self, target: int, timeout: float = SETTLE_TIMEOUT) -> tuple[float, int | None]:
        """Seconds until `online.now` equals target, and the last value seen."""
        started = time.monotonic()
        now = self.now()
        while now != target and time.monotonic() - started < timeout:
            time.sleep(0.25)
            now = self.now()
        return time.monotonic() - started, now

    def follow(self, seconds: float, until: Any) -> list[tuple[float, int]]:
        """(wall clock, online.now) every 0.25 s for at most `seconds`, stopping early once until(samples) holds."""
        samples: list[tuple[float, int]] = []
        end = time.monotonic() + seconds
        while time.monotonic() < end and not until(samples):
            now = self.now()
            if now is not None:
                samples.append((time.time(), now))
            time.sleep(0.25)
        return samples


@contextlib.contextmanager
def cluster(folder: Path) -> Iterator[tuple[ServerProcess, Engine, Event, list[str], redis.Redis]]:
    """The bench event in a fresh PostgreSQL database, a private Redis and `checkin serve --workers 4`."""
    event, codes = seed(folder / "seed.db", VIEWERS // 10)
    with backends.shared_backends(folder / "seed.db") as (db_url, redis_url, db):
        env = backends.shared_env(db_url, redis_url, CHECKIN_WATCH_MAX_CONNECTIONS=str(VIEWERS))
        port = free_port()
        command = [sys.executable, "-m", "checkin.cli", "serve", "--port", str(port), "--workers", str(WORKERS)]
        server = start(folder / "unused.db", port, folder / "serve.log", env, command)
        client = redis.Redis.from_url(redis_url)
        try:
            yield server, db, event, codes, client
        finally:
            client.close()
            server.stop()


# -- one run


@dataclass
class Crash:
    """What one SIGKILL of a worker did to `online.now`."""

    dropped: int = 0
    leave_s: float = float("nan")  # kill → online.now = VIEWERS − dropped
    rejoined: int = 0
    rejoined_by_s: float = float("nan")  # kill → the last of them acknowledged again
    back_s: float = float("nan")  # last rejoin acknowledged → online.now = VIEWERS again
    all_back_s: float = float("nan")  # kill → online.now = VIEWERS again
    lowest: int = 0
    highest: int = 0  # never above VIEWERS: nobody counted twice


@dataclass
class Run:
    joined: int
    failures: dict[str, int]
    all_joined_s: float
    join_p50_ms: float
    join_p99_ms: float
    settle_s: float
    now_after_join: int | None
    server_cpu_per_join_ms: float
    idle_rss_mib: list[float]
    idle_pss_mib: list[float]
    rss_mib: float
    pss_mib: float
    per_process_pss_mib: list[float]
    per_worker_open_files: list[int]
    cpu_rest_pct: float  # all server processes, % of one core, everyone watching, pings only
    redis_idle_mib: float
    redis_mib: float
    redis_calls_per_join: float
    redis_top: dict[str, float]
    held: Crash = field(default_factory=Crash)
    jittered: Crash = field(default_factory=Crash)
    still_open_at_end: int = 0
    load_average: tuple[float, float, float] = (0.0, 0.0, 0.0)


def trace(samples: list[tuple[float, int]], since: float) -> str:
    """Each value `online.now` took and when it took it, seconds from `since`."""
    changes = [(at, now) for n, (at, now) in enumerate(samples) if n == 0 or samples[n - 1][1] != now]
    return " ".join(f"{at - since:.1f}s:{now}" for at, now in changes[:80])


def crash(
    server: ServerProcess, stats: Stats, hold: Any, hold_seconds: float, commands: list[Any], results: Any
) -> Crash:
    """SIGKILL the worker holding the most sockets; follow `online.now` until everyone is counted again
    (and at least until the dead worker's viewings must have been ended, 30 s)."""
    victim = max(children_of(server.proc.pid), key=open_files)
    hold.value = hold_seconds
    killed_at = time.time()
    os.kill(victim, signal.SIGKILL)
    quiet_from = killed_at + max(hold_seconds, 30.0) + 5.0
    samples = stats.follow(
        hold_seconds + SETTLE_TIMEOUT, lambda s: bool(s) and s[-1][0] > quiet_from and s[-1][1] == VIEWERS
    )
    pairs = collect(commands, results, killed_at)
    drops = [dropped for dropped, _ in pairs]
    back = [again for _, again in pairs if again == again]
    out = Crash(dropped=len(drops), rejoined=len(back), rejoined_by_s=max(back, default=killed_at) - killed_at)
    print(f"online.now after the kill ({hold_seconds:.0f} s held): {trace(samples, killed_at)}", flush=True)
    if samples:
        out.lowest = min(now for _, now in samples)
        out.highest = max(now for _, now in samples)
        left = [t for t, now in samples if now == VIEWERS - len(drops)]
        if left:
            out.leave_s = left[0] - killed_at
        last_back = max(back, default=killed_at)
        whole = [t for t, now in samples if now == VIEWERS and t >= last_back]
        if whole:
            out.back_s = whole[0] - last_back
            out.all_back_s = whole[0] - killed_at
    return out


def one_run() -> Run:
    with tempfile.TemporaryDirectory() as folder, cluster(Path(folder)) as (server, db, event, codes, rds):
        token = db.write_sync(create_token, event.id, Role.DASHBOARD, "bench", time.time())[1]
        stats = Stats(server.url, event.slug, token)
        time.sleep(10)  # the workers' first beats and syncs
        idle = [memory(pid) for pid in server_pids(server)]
        redis_idle, calls_idle, idle_from = redis_used(rds), redis_calls(rds), time.monotonic()
        time.sleep(10)
        idle_rate = (redis_calls(rds) - calls_idle).total() / (time.monotonic() - idle_from)
        return storm(server, event, codes, stats, rds, idle, redis_idle, idle_rate)


def storm(
    server: ServerProcess,
    event: Event,
    codes: list[str],
    stats: Stats,
    rds: redis.Redis,
    idle: list[tuple[float, float]],
    redis_idle: float,
    idle_rate: float,
) -> Run:
    """The join storm, the measurements with everyone watching, the two crashes, everyone leaving."""
    ws_url = server.url.replace("http://", "ws://") + f"/ws/events/{event.slug}/watch"
    start_at = time.time() + 3.0
    spacing = STORM_SECONDS / VIEWERS
    jobs = [(q, source_address(i), start_at + i * spacing) for i, q in enumerate(queries(codes, VIEWERS))]
    hold = mp.Value("d", 0.0)
    results: Any = mp.Queue()
    commands: list[Any] = [mp.Queue() for _ in range(CLIENT_PROCESSES)]
    clients = [
        mp.Process(target=client, args=(ws_url, jobs[n::CLIENT_PROCESSES], hold, commands[n], results))
        for n in range(CLIENT_PROCESSES)
    ]
    calls_before, cpu_before, storm_from = redis_calls(rds), cpu_seconds(*server_pids(server)), time.monotonic()
    for process in clients:
        process.start()
    joined = [results.get() for _ in clients]
    say(f"joined: {sum(len(report[1]) for report in joined)}")
    settle_s, now_after_join = stats.wait_for(VIEWERS)
    say(f"online.now {now_after_join} after {settle_s:.1f} s")
    storm_seconds = time.monotonic() - storm_from
    cpu_storm = cpu_seconds(*server_pids(server)) - cpu_before
    calls = redis_calls(rds) - calls_before
    first = [pair for report in joined for pair in report[1]]
    latencies = [done - planned for planned, done in first]
    time.sleep(5)
    loaded = [memory(pid) for pid in server_pids(server)]
    sockets = [open_files(pid) for pid in server_pids(server)[1:]]
    redis_now = redis_used(rds)
    cpu_before = cpu_seconds(*server_pids(server))
    time.sleep(REST)
    cpu_rest = (cpu_seconds(*server_pids(server)) - cpu_before) / REST * 100
    held = crash(server, stats, hold, HOLD, commands, results)
    say(f"held: {held}")
    jittered = crash(server, stats, hold, 0.0, commands, results)
    say(f"jittered: {jittered}")
    for queue in commands:
        queue.put("leave")
    still_open = sum(results.get()[1] for _ in clients)
    for process in clients:
        process.join()
    errors: Counter[str] = Counter()
    for report in joined:
        errors.update(report[2])
    return Run(
        joined=len(first),
        failures=dict(errors),
        all_joined_s=max(done for _, done in first) - start_at if first else float("nan"),
        join_p50_ms=percentile(latencies, 50) * 1000,
        join_p99_ms=percentile(latencies, 99) * 1000,
        settle_s=settle_s,
        now_after_join=now_after_join,
        server_cpu_per_join_ms=cpu_storm / max(1, len(first)) * 1000,
        idle_rss_mib=[round(rss, 1) for rss, _ in idle],
        idle_pss_mib=[round(pss, 1) for _, pss in idle],
        rss_mib=sum(rss for rss, _ in loaded),
        pss_mib=sum(pss for _, pss in loaded),
        per_process_pss_mib=[round(pss, 1) for _, pss in loaded],
        per_worker_open_files=sockets,
        cpu_rest_pct=cpu_rest,
        redis_idle_mib=redis_idle,
        redis_mib=redis_now,
        redis_calls_per_join=(calls.total() - idle_rate * storm_seconds) / max(1, len(first)),
        redis_top={name: round(count / max(1, len(first)), 2) for name, count in calls.most_common(6)},
        held=held,
        jittered=jittered,
        still_open_at_end=still_open,
        load_average=os.getloadavg(),
    )


def main() -> None:
    limit = raise_nofile()
    runs = repeated(one_run, RUNS)
    print(
        f"\n{date.today().isoformat()} · {machine()} · {VIEWERS} viewers, {WORKERS} workers,"
        f" {CLIENT_PROCESSES} client processes, open files {limit}, {RUNS} runs (medians)"
    )
    for name in ("all_joined_s", "join_p50_ms", "join_p99_ms", "settle_s", "server_cpu_per_join_ms"):
        values = [getattr(run, name) for run in runs]
        print(f"  {name}: {median(values):.2f}  (runs: {[round(v, 2) for v in values]})")
    for name in ("rss_mib", "pss_mib", "cpu_rest_pct", "redis_idle_mib", "redis_mib", "redis_calls_per_join"):
        values = [getattr(run, name) for run in runs]
        print(f"  {name}: {median(values):.1f}  (runs: {[round(v, 1) for v in values]})")
    for kind in ("held", "jittered"):
        for name in Crash.__dataclass_fields__:
            values = [getattr(getattr(run, kind), name) for run in runs]
            print(f"  {kind}.{name}: {median(values):.2f}  (runs: {[round(v, 2) for v in values]})")


if __name__ == "__main__":
    main()

"""The scan API on one server process: p99 at a steady 200 scans/s from 32 kiosks, the ceiling of first
scans per second (wrk), and a kill -9 in the middle of a rush (every scan answered `ok` must be on disk).

An event of 100,000 ticketed registrants is seeded once; every run starts from a copy of it, and every
request is the first scan of a distinct ticket. Run: `python -m bench scans` (BENCH_TICKETS, BENCH_RUNS
and BENCH_SECONDS override the defaults).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from pathlib import Path

import httpx

from bench.common import (
    Sample,
    children,
    machine,
    median,
    paced,
    paced_summary,
    post_request,
    spawn_server,
    tree_cpu_seconds,
)
from checkin.demo import SYMPOSIUM, generated_applications
from checkin.models import Event, Mode, Role
from checkin.settings import Settings
from checkin.storage import Database, Engine, opened
from checkin.storage import registrants as store
from checkin.storage.events import create_event
from checkin.storage.sql import Connection
from checkin.storage.staff import create_token

LUA = Path(__file__).with_name("scans.lua")
SLUG = "bench"
KIOSKS = 32
RATE = 200.0
PROCESSES = 4
WRK_THREADS = 2


@dataclass(frozen=True)
class Seeded:
    db: Path
    codes: list[str]
    tokens: list[str]


def _seed_people(conn: Connection, event: Event, count: int) -> list[str]:
    now = time.time()
    codes = []
    # Registered as online (the seat count of venue registrations is a scan of all of them), then
    # moved to the venue in one statement: the same rows as registering venue people one by one.
    for number, app in enumerate(generated_applications(count)):
        online = replace(app, mode=Mode.ONLINE, email=f"b{number}@example.jp")
        registration = store.register(conn, event, online, now, source="import", ref_no=f"B{number:07d}")
        assert registration.ticket is not None
        codes.append(registration.ticket.code)
    conn.execute("UPDATE registrants SET mode = 'venue'")
    return codes


def seed(folder: Path, tickets: int) -> Seeded:
    """An event (capacity above the tickets) with `tickets` venue registrants and 32 kiosk tokens."""
    path = folder / "pristine.db"
    db = Database(path, "NORMAL")
    db.open()
    try:
        _event, codes, tokens = seed_door(db, tickets)
    finally:
        db.close()
    return Seeded(path, codes, tokens)


def seed_door(db: Engine, tickets: int) -> tuple[Event, list[str], list[str]]:
    """In an open database: the event, its `tickets` venue registrants' codes and 32 kiosk tokens."""
    event = db.write_sync(create_event, replace(SYMPOSIUM, slug=SLUG, capacity=tickets * 2), time.time())
    codes = db.write_sync(_seed_people, event, tickets)
    tokens = [db.write_sync(create_token, event.id, Role.KIOSK, f"受付{n + 1}", time.time())[1] for n in range(KIOSKS)]
    return event, codes, tokens


# -- steady rate: 32 kiosks, each on its own keep-alive connection, paced at RATE / 32 scans per second


def paced_scans(url: str, seeded: Seeded, codes: list[str], seconds: float) -> dict[str, float]:
    """RATE scans/s for `seconds` from 32 kiosks in PROCESSES client processes: latency percentiles."""
    samples = paced_scans_samples(url, seeded, codes, seconds)
    ok = sum(s.status == 200 and json.loads(s.body).get("result") == "ok" for s in samples)
    return {**paced_summary(samples, RATE), "scans": len(samples), "ok": ok}


def paced_scans_samples(url: str, seeded: Seeded, codes: list[str], seconds: float) -> list[Sample]:
    """The answers of RATE scans/s for `seconds` from 32 kiosks (first scans of distinct tickets)."""
    per_kiosk = int(seconds * RATE / KIOSKS)
    path = f"/api/v1/events/{SLUG}/scans"
    request_lists = [
        [
            post_request(url, path, {"code": code, "scan_id": uuid.uuid4().hex}, {"Authorization": f"Bearer {token}"})
            for code in codes[k * per_kiosk : (k + 1) * per_kiosk]
        ]
        for k, token in enumerate(seeded.tokens[:KIOSKS])
    ]
    return paced(url, request_lists, RATE, PROCESSES)


# -- ceiling and kill -9: wrk with bench/scans.lua


def wrk(
    url: str, seeded: Seeded, codes_file: Path, seconds: float, conns: int = KIOSKS, record: Path | None = None
) -> subprocess.Popen[str]:
    """Start wrk sending first scans of the codes in `codes_file`."""
    env = {
        **os.environ,
        "SCAN_CODES": str(codes_file),
        "SCAN_PATH": f"/api/v1/events/{SLUG}/scans",
        "SCAN_TOKENS": ",".join(seeded.tokens[:WRK_THREADS]),
        "SCAN_THREADS": str(WRK_THREADS),
        "SCAN_RECORD": str(record or ""),
    }
    command = ["wrk", "-t", str(WRK_THREADS), "-c", str(conns), "-d", f"{seconds:.0f}s", "-s", str(LUA), url]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wrk_result(proc: subprocess.Popen[str]) -> dict[str, int]:
    output, _ = proc.communicate()
    line = next((line for line in output.splitlines() if line.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {output}")
    return {key: int(value) for key, value in (pair.split("=") for pair in line.split()[1:])}


@dataclass(frozen=True)
class Door:
    """How one line of the results serves the door: a fresh database per run, the server's settings, its
    processes, and meters (name -> a count so far: CPU milliseconds, transactions) read around each ceiling run."""

    name: str
    fresh: Callable[[], AbstractContextManager[Path | str]]
    env: dict[str, str]
    workers: int = 1
    meters: Callable[[subprocess.Popen[bytes], Path | str], dict[str, Callable[[], float]]] = lambda proc, _db: {
        "server_ms": lambda: 1000 * tree_cpu_seconds(proc.pid)
    }


def ceiling(
    url: str, meters: dict[str, Callable[[], float]], seeded: Seeded, codes_file: Path, seconds: float
) -> dict[str, float]:
    """First scans per second that the server sustains under 32 connections, and each meter's growth per scan."""
    before = {name: meter() for name, meter in meters.items()}
    result = wrk_result(wrk(url, seeded, codes_file, seconds))
    answered = result["requests"] - result["non2xx"]
    per_scan = {name: (meter() - before[name]) / max(1, result["requests"]) for name, meter in meters.items()}
    return {
        "per_second": answered / (result["duration_us"] / 1e6),
        **per_scan,
        "non2xx": result["non2xx"],
        "p50": result["p50_us"] / 1000,
        "p99": result["p99_us"] / 1000,
    }


def scans_logged_ok(conn: Connection) -> set[str]:
    """The scan ids of every check-in the database holds."""
    return {row[0] for row in conn.execute("SELECT scan_id FROM scans WHERE result = 'ok'")}


def logged_ok(db: Path | str) -> set[str]:
    """The scan_id of every scan logged `ok` in the database (SQLite file or PostgreSQL URL)."""
    with opened(Settings.from_env({"CHECKIN_DB": str(db)})) as engine:
        return engine.read_sync(scans_logged_ok)


def kill_during_rush(door: Door, seeded: Seeded, codes_file: Path, folder: Path) -> dict[str, int]:
    """kill -9 the server (of several, one of them) 3 s into a rush, restart it (with several, the others
    serve on and the supervisor replaces it), and compare what was answered ok with the database."""
    record = folder / "record"
    shutil.rmtree(record, ignore_errors=True)
    record.mkdir()
    with door.fresh() as db:
        proc, url = spawn_server(db, door.env, workers=door.workers)
        try:
            load = wrk(url, seeded, codes_file, 8, record=record)
            time.sleep(3)
            os.kill(children(proc.pid)[0] if door.workers > 1 else proc.pid, signal.SIGKILL)
            if door.workers == 1:
                proc.wait()
            wrk_result(load)
            answered = {
                line.strip() for path in record.glob("oks-*.txt") for line in path.read_text().splitlines() if line
            }
            if door.workers == 1:
                proc, _url = spawn_server(db, door.env)  # restart: recovery (SQLite from its WAL)
            on_disk = logged_ok(db)
        finally:
            proc.terminate()
            proc.wait(timeout=40)
    return {"answered_ok": len(answered), "ok_on_disk": len(on_disk), "missing": len(answered - on_disk)}


def fresh_copy(folder: Path, seeded: Seeded) -> Path:
    """A copy of the seeded database for one run, flushed to disk, with no WAL left from the last run."""
    run_db = folder / "run.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{run_db}{suffix}").unlink(missing_ok=True)
    shutil.copy(seeded.db, run_db)
    # Flushed now: otherwise the server's first checkpoint would fsync a whole freshly written file
    # (tens of MB) and stall the disk for everyone, which a running event's database never does.
    with run_db.open("rb+") as copy:
        os.fsync(copy.fileno())
    return run_db


def sqlite_door(folder: Path, seeded: Seeded, sync: str) -> Door:
    """One server process on a fresh copy of the seeded SQLite file."""
    return Door(
        f"SQLite, synchronous={sync}, 1 process",
        lambda: contextlib.nullcontext(fresh_copy(folder, seeded)),
        {"CHECKIN_SQLITE_SYNCHRONOUS": sync},
    )


@dataclass(frozen=True)
class DoorResult:
    """Every run of one door: the steady rate's and the ceiling's figures, and the kill -9."""

    door: Door
    steady: list[dict[str, float]]
    tops: list[dict[str, float]]
    killed: dict[str, int]

    def mid(self, rows: str, key: str) -> float:
        return median([row[key] for row in getattr(self, rows)])

    def runs(self, rows: str, key: str, form: str = "{:.0f}") -> str:
        return ", ".join(form.format(row[key]) for row in getattr(self, rows))


def measure(folder: Path, seeded: Seeded, door: Door, runs: int, seconds: float) -> DoorResult:
    """Steady rate and ceiling (`runs` fresh servers on fresh databases), then one kill -9."""
    paced_codes = seeded.codes[: int(seconds * RATE) + KIOSKS]
    codes_file = folder / "codes.txt"
    codes_file.write_text("\n".join(seeded.codes[len(paced_codes) :]) + "\n")
    steady, tops = [], []
    for _ in range(runs):
        with door.fresh() as db:
            proc, url = spawn_server(db, door.env, workers=door.workers)
            try:
                steady.append(paced_scans(url, seeded, paced_codes, seconds))
                tops.append(ceiling(url, door.meters(proc, db), seeded, codes_file, seconds))
            finally:
                proc.terminate()
                proc.wait(timeout=40)
        print(f"  {door.name}: steady {steady[-1]}", f"ceiling {tops[-1]}", sep="\n  ", flush=True)
    killed = kill_during_rush(door, seeded, codes_file, folder)
    print(f"  {door.name}: kill -9 {killed}", flush=True)
    return DoorResult(door, steady, tops, killed)


def report_line(result: DoorResult) -> str:
    """One line of figures for a door."""
    meters = result.tops[0].keys() - {"per_second", "non2xx", "p50", "p99"}
    cpu = ", ".join(
        f"{key.removesuffix('_ms')} CPU {result.mid('tops', key):.2f} ms/scan"
        if key.endswith("_ms")
        else f"{key} {result.mid('tops', key):.2f}/scan"
        for key in sorted(meters)
    )
    killed = result.killed
    return (
        f"{result.door.name}: {RATE:.0f} scans/s from {KIOSKS} kiosks: p50 {result.mid('steady', 'p50'):.1f} ms,"
        f" p99 {result.mid('steady', 'p99'):.1f} ms ({result.runs('steady', 'p99', '{:.1f}')}; from due time"
        f" {result.mid('steady', 'p99_from_due'):.1f} ms); ceiling {result.mid('tops', 'per_second'):.0f} first"
        f" scans/s ({result.runs('tops', 'per_second')}; {cpu}, p99 {result.mid('tops', 'p99'):.0f} ms,"
        f" non-2xx {sum(t['non2xx'] for t in result.tops):.0f}); kill -9 mid-rush: {killed['answered_ok']}"
        f" answered ok, {killed['missing']} missing"
    )


def sync_copy(folder: Path, seeded: Seeded) -> str:
    """Time and size of a kiosk's full offline copy, and of a delta after one check-in."""
    proc, url = spawn_server(fresh_copy(folder, seeded), {"CHECKIN_SQLITE_SYNCHRONOUS": "NORMAL"})
    try:
        with httpx.Client(base_url=url, headers={"authorization": f"Bearer {seeded.tokens[0]}"}, timeout=120) as http:
            path = f"/api/v1/events/{SLUG}/kiosk/sync"
            started = time.perf_counter()
            full = http.get(path)
            full_s = time.perf_counter() - started
            http.post(f"/api/v1/events/{SLUG}/scans", json={"code": seeded.codes[0], "scan_id": "sync-1"})
            cursor = full.json()["cursor"]
            started = time.perf_counter()
            delta = http.get(path, params={"since": cursor})
            delta_ms = (time.perf_counter() - started) * 1000
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return (
        f"kiosk sync: full copy {len(full.content) / 1e6:.1f} MB ({full.num_bytes_downloaded / 1e6:.1f} MB gzipped)"
        f" in {full_s:.1f} s,"
        f" delta after one check-in {len(delta.content)} bytes in {delta_ms:.0f} ms"
    )


def main() -> None:
    tickets = int(os.environ.get("BENCH_TICKETS", "100000"))
    runs = int(os.environ.get("BENCH_RUNS", "3"))
    seconds = float(os.environ.get("BENCH_SECONDS", "10"))
    print(f"{time.strftime('%Y-%m-%d')} · {machine()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.monotonic()
        seeded = seed(folder, tickets)
        print(f"seeded {tickets} tickets in {time.monotonic() - started:.0f} s", flush=True)
        lines = [sync_copy(folder, seeded)]
        doors = [sqlite_door(folder, seeded, sync) for sync in ("NORMAL", "FULL")]
        lines += [report_line(measure(folder, seeded, door, runs, seconds)) for door in doors]
    print("\n".join(lines), flush=True)

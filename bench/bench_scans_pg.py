"""The door on PostgreSQL, beside SQLite in the same sitting: p99 at a steady 200 scans/s from 32 kiosks, the
ceiling of first scans per second (wrk), and a kill -9 in the middle of a rush, for one server process on
SQLite (synchronous=FULL, the default), one on PostgreSQL, and `--workers 2` on PostgreSQL with Redis.

The event of 100,000 ticketed registrants is seeded once into SQLite as `bench_scans` does, copied into
PostgreSQL with `checkin copy-db`, and every run starts from a fresh copy of it (`CREATE DATABASE … TEMPLATE`).
The ceiling's CPU is counted apart for the server's processes and for PostgreSQL's (its backends serving
the run's database). Run: `python -m bench scans_pg` (BENCH_TICKETS, BENCH_RUNS, BENCH_SECONDS as for scans).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench import backends
from bench.bench_scans import Door, DoorResult, measure, report_line, seed, sqlite_door
from bench.common import machine, tree_cpu_seconds


def _meters(proc: subprocess.Popen[bytes], db: Path | str) -> dict[str, Callable[[], float]]:
    """CPU milliseconds of the server's processes and of PostgreSQL's, and the database's rolled back transactions
    (a write that met a conflict, run again)."""
    return {
        "server_ms": lambda: 1000 * tree_cpu_seconds(proc.pid),
        "postgres_ms": lambda: 1000 * backends.postgres_cpu_seconds(str(db)),
        "rollbacks": lambda: backends.rollbacks(str(db)),
    }


def pg_door(template: str, workers: int, env: dict[str, str]) -> Door:
    """`workers` server processes on a fresh copy of the seeded PostgreSQL database."""
    return Door(
        f"PostgreSQL, {workers} process{'es' if workers > 1 else ''}",
        lambda: backends.fresh_database(template),
        env,
        workers,
        _meters,
    )


def table(results: list[DoorResult]) -> str:
    """The results as a Markdown table (medians, with each run in brackets)."""
    rows = [
        "| server | 200 scans/s: p50 | p99 (runs) | ceiling, first scans/s (runs) | CPU per scan: server"
        " + PostgreSQL | p99 at the ceiling | kill -9 mid-rush |",
        "| --- | ---: | --- | --- | --- | ---: | --- |",
    ]
    for result in results:
        cpu = f"{result.mid('tops', 'server_ms'):.2f} ms"
        if "postgres_ms" in result.tops[0]:
            cpu += f" + {result.mid('tops', 'postgres_ms'):.2f} ms ({result.mid('tops', 'rollbacks'):.2f} rollbacks)"
        rows.append(
            f"| {result.door.name} | {result.mid('steady', 'p50'):.1f} ms | **{result.mid('steady', 'p99'):.1f} ms**"
            f" ({result.runs('steady', 'p99', '{:.1f}')}) | **{result.mid('tops', 'per_second'):,.0f}**"
            f" ({result.runs('tops', 'per_second', '{:,.0f}')}) | {cpu} | {result.mid('tops', 'p99'):.0f} ms"
            f" | {result.killed['answered_ok']:,} answered `ok`, **{result.killed['missing']} missing** |"
        )
    return "\n".join(rows)


def main() -> None:
    tickets = int(os.environ.get("BENCH_TICKETS", "100000"))
    runs = int(os.environ.get("BENCH_RUNS", "3"))
    seconds = float(os.environ.get("BENCH_SECONDS", "20"))
    print(f"{time.strftime('%Y-%m-%d %H:%M')} · {machine()} · load {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.monotonic()
        seeded = seed(folder, tickets)
        print(f"seeded {tickets} tickets in {time.monotonic() - started:.0f} s", flush=True)
        with backends.seeded_template(seeded.db) as template, backends.redis_prefix() as prefix:
            print(f"copied into PostgreSQL in {time.monotonic() - started:.0f} s", flush=True)
            shared = {"CHECKIN_REDIS_URL": backends.REDIS, "CHECKIN_REDIS_PREFIX": prefix}
            doors = [sqlite_door(folder, seeded, "FULL"), pg_door(template, 1, {}), pg_door(template, 2, shared)]
            results = []
            for door in doors:
                results.append(measure(folder, seeded, door, runs, seconds))
                print(f"  load {os.getloadavg()}", flush=True)
    print("\n".join(report_line(result) for result in results), "", table(results), sep="\n", flush=True)

"""One dashboard snapshot's cost over many open viewings, on SQLite and PostgreSQL, without HTTP.

An event with BENCH_VIEWINGS viewings (default 50,000; one in five closed, the rest open) and 300 check-ins.
Then, as in a join storm, BENCH_STEPS rounds (default 40) of 100 new viewers each, one snapshot after each
(`snapshot_counts` with the hub's `OnlineMemo`): the time of each snapshot, the full computations among them,
and the time of one full computation (`online_figures` over every viewing) for comparison. BENCH_RUNS runs
(default 3), each on a new database; medians. Run: `python -m bench snapshot`.
"""

from __future__ import annotations

import functools
import os
import secrets
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg

from bench import backends
from bench.common import machine, repeated
from checkin.storage.db import Database
from checkin.storage.engine import Engine
from checkin.storage.events import create_event
from checkin.storage.pg import PgDatabase
from checkin.storage.sql import Connection
from checkin.storage.stats import OnlineMemo, snapshot_counts
from checkin.storage.viewing import online_figures
from tests.utils import EVENT as SYMPOSIUM

EVENT = replace(SYMPOSIUM, slug="snapshot", capacity=1_000_000)
JOINS_PER_STEP = 100


@contextmanager
def _engine(kind: str) -> Iterator[Engine]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            db: Engine = Database(Path(tmp) / "bench.db")
            db.open()
            try:
                yield db
            finally:
                db.close()
        return
    name = f"checkin_bench_{secrets.token_hex(4)}"
    with psycopg.connect(f"{backends.PG}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        pg = PgDatabase(f"{backends.PG}/{name}")
        pg.open()
        try:
            yield pg
        finally:
            pg.close()
    finally:
        backends.drop(name)


def _seed(conn: Connection, event_id: int, viewings: int, at: float) -> None:
    conn.executemany(
        "INSERT INTO viewing_intervals (event_id, viewer_key, registrant_id, started_at, last_seen_at, ended_at)"
        " VALUES (?, ?, NULL, ?, ?, ?)",
        [
            (event_id, f"anon:{n}", at + n * 0.01, at + n * 0.01, None if n % 5 else at + n * 0.01 + 30)
            for n in range(viewings)
        ],
    )


def _join(conn: Connection, event_id: int, first: int, at: float) -> None:
    conn.executemany(
        "INSERT INTO viewing_intervals (event_id, viewer_key, registrant_id, started_at, last_seen_at)"
        " VALUES (?, ?, NULL, ?, ?)",
        [(event_id, f"storm:{n}", at, at) for n in range(first, first + JOINS_PER_STEP)],
    )


def one_run(kind: str, viewings: int, steps: int) -> dict[str, float]:
    with _engine(kind) as db:
        start = time.time() - viewings * 0.01 - 60
        event = db.write_sync(create_event, EVENT, start)
        db.write_sync(_seed, event.id, viewings, start)
        if kind == "postgresql":
            db.write_sync(lambda conn: conn.execute("ANALYZE viewing_intervals"))
        began = time.perf_counter()
        db.read_sync(online_figures, event.id, time.time())
        full = time.perf_counter() - began
        memo, times = OnlineMemo(), []
        for step in range(steps):
            db.write_sync(_join, event.id, step * JOINS_PER_STEP, time.time())
            began = time.perf_counter()
            db.read_sync(snapshot_counts, EVENT.slug, float(int(time.time())), memo)
            times.append(time.perf_counter() - began)
            time.sleep(0.2)  # the hub's coalescing interval
        return {
            "full_ms": full * 1000,
            "snapshot_p50_ms": statistics.median(times) * 1000,
            "snapshot_max_ms": max(times) * 1000,
            "snapshot_mean_ms": statistics.mean(times) * 1000,
        }


def main() -> None:
    viewings = int(os.environ.get("BENCH_VIEWINGS", "50000"))
    steps = int(os.environ.get("BENCH_STEPS", "40"))
    runs = int(os.environ.get("BENCH_RUNS", "3"))
    print(f"{machine()}; {viewings} viewings, {steps} snapshots after {JOINS_PER_STEP} joins each, 0.2 s apart")
    for kind in ("sqlite", "postgresql"):
        results: list[dict[str, Any]] = repeated(functools.partial(one_run, kind, viewings, steps), runs)
        medians = {key: statistics.median(r[key] for r in results) for key in results[0]}
        print(f"{kind}: " + ", ".join(f"{key} {value:.1f}" for key, value in medians.items()), flush=True)


if __name__ == "__main__":
    main()

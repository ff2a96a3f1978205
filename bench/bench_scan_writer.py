"""The door's writer thread on PostgreSQL, without HTTP: statements, writer CPU and PostgreSQL CPU per first scan.

One `PgDatabase` in this process on a new database (the schema only): an event, a kiosk token and
BENCH_TICKETS registrants (default 1,500), then every ticket scanned once, all queued at once
(`scan_with_token`, as the door's endpoint hands it over), so the writer runs them in full batches. Per
scan: the statements the writer sent through the adapter (each a round trip; the batch's BEGIN and COMMIT
aside), the writer thread's CPU, the CPU of PostgreSQL's backends serving the database, and scans per
second. BENCH_RUNS runs (default 3), each on a new database; medians. Run: `python -m bench scan_writer`.
"""

from __future__ import annotations

import os
import secrets
import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg

from bench import backends
from bench.common import machine
from checkin.models import Mode, Role
from checkin.registration import Application
from checkin.storage import registrants as store
from checkin.storage.events import create_event
from checkin.storage.pg import PgDatabase
from checkin.storage.pgsql import PgConnection
from checkin.storage.scans import scan_with_token
from checkin.storage.staff import create_token
from checkin.web.kiosk import _admit
from tests.utils import EVENT as SYMPOSIUM

EVENT = replace(SYMPOSIUM, slug="writer", capacity=1_000_000)


@contextmanager
def _empty_database() -> Iterator[str]:
    name = f"checkin_bench_{secrets.token_hex(4)}"
    with psycopg.connect(f"{backends.PG}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{backends.PG}/{name}"
    finally:
        backends.drop(name)


def _thread_cpu(native_id: int) -> float:
    """CPU seconds of one thread of this process."""
    fields = Path(f"/proc/self/task/{native_id}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_run(tickets: int) -> dict[str, float]:
    """Seed, then scan every ticket once; figures per scan."""
    with _empty_database() as url:
        db = PgDatabase(url)
        db.open()
        try:
            event = db.write_sync(create_event, EVENT, time.time())
            secret = db.write_sync(create_token, event.id, Role.KIOSK, "受付1", time.time())[1]
            people = [
                db.submit_write(
                    store.register,
                    event,
                    Application(f"山田 {n}郎", "ヤマダ タロウ", f"p{n}@example.jp", "総務省", Mode.VENUE),
                    time.time(),
                    enforce_open=False,
                )
                for n in range(tickets + 1)
            ]
            codes = [str(future.result().ticket.code) for future in people]  # type: ignore[union-attr]
            scan: dict[str, Any] = {"scan_id": str(uuid.uuid4()), "code": codes.pop()}
            db.write_sync(scan_with_token, event.slug, secret, scan, time.time(), _admit)  # makes the kiosk row
            writer = next(thread for thread in threading.enumerate() if thread.name == "db-pg-writer")
            sent = [0]
            execute = PgConnection.execute

            def counted(conn: PgConnection, sql: str, parameters: Any = (), /) -> Any:
                if threading.current_thread() is writer:
                    sent[0] += 1
                return execute(conn, sql, parameters)

            PgConnection.execute = counted  # type: ignore[method-assign]
            try:
                cpu, postgres = _thread_cpu(writer.native_id or 0), backends.postgres_cpu_seconds(url)
                started = time.perf_counter()
                futures = [
                    db.submit_write(
                        scan_with_token,
                        event.slug,
                        secret,
                        {"scan_id": str(uuid.uuid4()), "code": code},
                        time.time(),
                        _admit,
                    )
                    for code in codes
                ]
                results = {future.result().body["result"] for future in futures}
                elapsed = time.perf_counter() - started
                cpu = _thread_cpu(writer.native_id or 0) - cpu
                postgres = backends.postgres_cpu_seconds(url) - postgres
            finally:
                PgConnection.execute = execute  # type: ignore[method-assign]
            assert results == {"ok"}, results
        finally:
            db.close()
    return {
        "statements": sent[0] / tickets,
        "writer_ms": 1000 * cpu / tickets,
        "postgres_ms": 1000 * postgres / tickets,
        "per_second": tickets / elapsed,
    }


def main() -> None:
    tickets = int(os.environ.get("BENCH_TICKETS", "1500"))
    runs = int(os.environ.get("BENCH_RUNS", "3"))
    print(f"{time.strftime('%Y-%m-%d %H:%M')} · {machine()} · load {os.getloadavg()}", flush=True)
    results = []
    for _ in range(runs):
        results.append(one_run(tickets))
        print(f"  {results[-1]}", flush=True)
    medians = {key: statistics.median(result[key] for result in results) for key in results[0]}
    print(
        f"{tickets} first scans queued at once, {runs} runs, medians: {medians['statements']:.2f} statements,"
        f" writer thread {medians['writer_ms']:.2f} ms + PostgreSQL {medians['postgres_ms']:.2f} ms of CPU per scan,"
        f" {medians['per_second']:.0f} scans/s · load {os.getloadavg()}",
        flush=True,
    )


if __name__ == "__main__":
    main()

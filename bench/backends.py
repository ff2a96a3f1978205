"""PostgreSQL and Redis for benchmarks of several server processes: a seeded template database copied
for each run, the CPU of the database's own processes, a Redis key prefix of one's own, a throw-away
redis-server, and the environment of servers that share them.

The servers are those the tests use (127.0.0.1:5432, user postgres, trust; Redis on 127.0.0.1:6379);
BENCH_PG and BENCH_REDIS name others. Every database and key made here is removed afterwards.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import redis

from bench.common import cpu_seconds, free_port
from checkin.settings import Settings
from checkin.storage import Engine, opened
from tests.shared_redis import private_redis

PG = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/0")


def _admin() -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(f"{PG}/postgres", autocommit=True)


def drop(name: str) -> None:
    with _admin() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextlib.contextmanager
def seeded_template(sqlite: Path) -> Iterator[str]:
    """A new PostgreSQL database holding a copy of the SQLite file (`checkin copy-db`); yields its name."""
    name = f"checkin_bench_{secrets.token_hex(4)}"
    with _admin() as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        command = [sys.executable, "-m", "checkin.cli", "copy-db", "--db", str(sqlite), "--to", f"{PG}/{name}"]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        with psycopg.connect(f"{PG}/{name}", autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        yield name
    finally:
        drop(name)


@contextlib.contextmanager
def fresh_database(template: str) -> Iterator[str]:
    """The URL of a new database copied from `template`, checkpointed, dropped afterwards."""
    name = f"{template}_run"
    drop(name)
    with _admin() as conn:
        # FILE_COPY: the files copied and a checkpoint, rather than the whole database written to the WAL
        # (which the run's first commits would then wait behind, as SQLite's unflushed copy would).
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {template} STRATEGY FILE_COPY")
        conn.execute("CHECKPOINT")
    try:
        yield f"{PG}/{name}"
    finally:
        drop(name)


def backend_pids(url: str) -> list[int]:
    """The PostgreSQL server processes serving connections to the database at `url` (this query's aside)."""
    name = url.rsplit("/", 1)[1]
    with _admin() as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,)).fetchall()
    return [int(row[0]) for row in rows]


def postgres_cpu_seconds(url: str) -> float:
    """CPU time so far of the PostgreSQL processes serving the database at `url` (the server being local)."""
    return cpu_seconds(*backend_pids(url))


def rollbacks(url: str) -> float:
    """Transactions rolled back in the database at `url` so far (PostgreSQL's statistics, up to a second late)."""
    with _admin() as conn:
        row = conn.execute("SELECT xact_rollback FROM pg_stat_database WHERE datname = %s", (url.rsplit("/", 1)[1],))
        return float(row.fetchone()[0])  # type: ignore[index]


@contextlib.contextmanager
def redis_prefix() -> Iterator[str]:
    """A Redis key prefix of one's own; every key under it is deleted afterwards."""
    prefix = f"checkin-bench-{secrets.token_hex(4)}:"
    try:
        yield prefix
    finally:
        client = redis.Redis.from_url(REDIS)
        try:
            keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
            if keys:
                client.delete(*keys)
        finally:
            client.close()


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A throw-away redis-server (the tests' own, tests/shared_redis.py); yields its URL."""
    port = free_port()
    with private_redis(port):
        yield f"redis://127.0.0.1:{port}/0"


@contextlib.contextmanager
def shared_backends(sqlite: Path) -> Iterator[tuple[str, str, Engine]]:
    """A fresh PostgreSQL database copied from the seeded SQLite file, a throw-away Redis, and the database
    opened here: (database URL, Redis URL, engine)."""
    with (
        seeded_template(sqlite) as template,
        fresh_database(template) as db_url,
        redis_server() as redis_url,
        opened(Settings(qr_workers=0).with_db(db_url)) as db,
    ):
        yield db_url, redis_url, db


def shared_env(db_url: str, redis_url: str, **more: str) -> dict[str, str]:
    """The environment of servers on one database and one Redis, with their own key prefix and the
    per-address limits lifted (every load comes from this machine)."""
    return {
        "CHECKIN_DB": db_url,
        "CHECKIN_REDIS_URL": redis_url,
        "CHECKIN_REDIS_PREFIX": f"bench-{secrets.token_hex(4)}:",
        "CHECKIN_RATE_LIMITS": "off",
        "CHECKIN_QR_WORKERS": "0",
        **more,
    }

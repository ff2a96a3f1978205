"""The scale-out the rehearsal plays (`--servers N --db postgresql://… [--redis URL]`): N `checkin serve` on
their own ports, one PostgreSQL database and one Redis, under a key prefix of the rehearsal's own. When no
Redis is given, or when the `redis` fault is asked for, it starts a throw-away `redis-server` on a free port
(no persistence), the only Redis it ever stops; a Redis it was given is never restarted, only its keys under
the rehearsal's prefix are deleted at the end."""

from __future__ import annotations

import contextlib
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import redis
import redis.asyncio

from checkin.rehearsal.server import OwnServer, free_port, stop_process
from checkin.settings import redacted

NEEDS_REDIS_SERVER = "the rehearsal's own Redis needs the redis-server program (Debian package redis-server)"


def refusal(servers: int, db: str | None, redis_url: str | None, faults: set[str], url: str | None) -> str | None:
    """Why these options cannot be played (None: they can), as `serve --workers` refuses several on SQLite."""
    if servers < 1:
        return "--servers must be 1 or more"
    if url and (db or redis_url or servers > 1):
        return "--db, --redis and --servers start the rehearsal's own servers; with --url it plays yours"
    if db and not db.startswith(("postgresql://", "postgres://")):
        return "--db takes a postgresql://user@host:port/dbname URL (without it the rehearsal makes its own SQLite)"
    if servers > 1 and not db:
        return (
            f"--servers {servers} runs separate processes, which share data only through PostgreSQL; it needs "
            "--db set to a postgresql://user@host:port/dbname URL of a new, empty database (or run one: --servers 1)"
        )
    if "redis" in faults and redis_url:
        return "the redis fault stops and starts a Redis of the rehearsal's own: leave out --redis"
    if (servers > 1 or "redis" in faults) and not (url or redis_url) and shutil.which("redis-server") is None:
        return f"{NEEDS_REDIS_SERVER}, or give --redis redis://host:port/N"
    return None


def database_refusal(db: str) -> str | None:
    """A database the rehearsal may not use: unreachable, or holding any table (it must be new and empty)."""
    try:
        with psycopg.connect(db, connect_timeout=10) as conn:
            row = conn.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', "
                "'information_schema')"
            ).fetchone()
    except psycopg.Error as exc:
        return f"cannot open the database {redacted(db)}: {str(exc).strip()}"
    if row is not None and int(row[0]) > 0:
        return (
            f"the database {redacted(db)} is not empty: give the rehearsal a new, empty one "
            "(createdb …), never the event day's own"
        )
    return None


@dataclass
class OwnRedis:
    """A `redis-server` of the rehearsal's own on a free port, without persistence: a restart loses everything."""

    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - a fixed program and our own arguments
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],  # noqa: S607
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        try:
            for _ in range(200):
                with contextlib.suppress(redis.ConnectionError):
                    client.ping()
                    return
                if self.process.poll() is not None:
                    break
                time.sleep(0.05)
        finally:
            client.close()
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        stop_process(self.process, 10)


@dataclass
class Cluster:
    """The rehearsal's servers (one, or several on PostgreSQL and Redis) and the Redis it owns, if any."""

    servers: list[OwnServer]
    redis_url: str | None = None
    prefix: str = ""
    own_redis: OwnRedis | None = None

    @classmethod
    def make(cls, workdir: Path, count: int, db: str | None, redis_url: str | None, own_redis: bool) -> Cluster:
        """The servers' settings, nothing started yet."""
        mine = OwnRedis() if own_redis else None
        url = mine.url if mine is not None else redis_url
        prefix = f"checkin-rehearsal-{secrets.token_hex(4)}:"
        shared: dict[str, str] = {}
        if db:
            shared["CHECKIN_DB"] = db
        if url:
            shared |= {"CHECKIN_REDIS_URL": url, "CHECKIN_REDIS_PREFIX": prefix}
        servers = [OwnServer(workdir, number=n + 1, shared=shared) for n in range(count)]
        return cls(servers, url, prefix, mine)

    @property
    def first(self) -> OwnServer:
        return self.servers[0]

    @property
    def urls(self) -> list[str]:
        return [server.url for server in self.servers]

    def start(self) -> None:
        """The Redis of our own, then every server at once; wait until each answers."""
        if self.own_redis is not None:
            self.own_redis.start()
        began = time.monotonic()
        for server in self.servers:
            server.launch()
        for server in self.servers:
            server.ready(began)

    def running(self) -> int:
        return sum(1 for server in self.servers if server.running)

    async def alive(self) -> int | None:
        """How many servers Redis counts as alive now (their liveness keys), None while it cannot be asked."""
        if self.redis_url is None:
            return None
        client = redis.asyncio.Redis.from_url(self.redis_url, socket_connect_timeout=1, socket_timeout=2)
        try:
            return len([key async for key in client.scan_iter(match=self.prefix + "alive:*", count=1000)])
        except (redis.RedisError, OSError):
            return None
        finally:
            await client.aclose()

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        if self.own_redis is not None:
            self.own_redis.stop()
        elif self.redis_url is not None:
            self.forget()

    def forget(self) -> None:
        """Delete the rehearsal's keys from a Redis it was given (the servers are stopped)."""
        assert self.redis_url is not None
        client = redis.Redis.from_url(self.redis_url, socket_connect_timeout=5)
        try:
            keys = list(client.scan_iter(match=self.prefix + "*", count=1000))
            if keys:
                client.delete(*keys)
        except (redis.RedisError, OSError):
            pass
        finally:
            client.close()

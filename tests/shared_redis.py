"""A private key prefix in the real Redis at 127.0.0.1:6379 for one test, deleted afterwards."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest
import redis

REDIS_URL = "redis://127.0.0.1:6379/0"


def new_prefix() -> str:
    return f"test-{uuid.uuid4().hex[:12]}:"


def delete_keys(prefix: str) -> None:
    """Every key under the prefix goes (what a test left behind)."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def keys_under(prefix: str) -> list[str]:
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        return sorted(client.scan_iter(match=prefix + "*", count=1000))
    finally:
        client.close()


def require_redis() -> None:
    """Skip the test where no Redis answers (a machine set up by scripts/system-deps.sh alone), unless
    CHECKIN_TEST_REDIS is set (CI sets it: there a Redis that is down is a failure, not a skip)."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        if "CHECKIN_TEST_REDIS" in os.environ:
            raise
        pytest.skip(f"no Redis at {REDIS_URL} (set CHECKIN_TEST_REDIS to require one): {exc}")
    finally:
        client.close()


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own (the test is skipped where no Redis runs, see require_redis)."""
    require_redis()
    prefix = new_prefix()
    yield prefix
    delete_keys(prefix)


@contextlib.contextmanager
def private_redis(port: int) -> Iterator[subprocess.Popen[bytes]]:
    """A redis-server of the test's own on `port` (no persistence: a restart loses everything)."""
    if shutil.which("redis-server") is None and "CHECKIN_TEST_REDIS" not in os.environ:
        pytest.skip("no redis-server program here to start a Redis of the test's own (Debian package redis-server)")
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    try:
        for _ in range(200):
            with contextlib.suppress(redis.ConnectionError):
                client.ping()
                break
            time.sleep(0.05)
        yield proc
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=10)

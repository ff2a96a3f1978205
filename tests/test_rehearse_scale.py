"""`checkin rehearse --servers N --db postgresql://…`: the day played over three servers on one PostgreSQL
database and one Redis, one server killed -9 in the middle of the rush and the Redis restarted; the options
it refuses; and a truth that is deliberately wrong making a multi-server rehearsal fail."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from checkin.rehearsal import run
from checkin.rehearsal.faults import parse_faults
from checkin.rehearsal.truth import Truth
from tests.pg import fresh_database

HANG = 600  # only catches a hang: the day with both faults takes about three minutes


def need_redis_server() -> None:
    """The rehearsal starts a redis-server of its own; skipped where there is none, as tests.shared_redis does."""
    if shutil.which("redis-server") is None and "CHECKIN_TEST_REDIS" not in os.environ:
        pytest.skip("no redis-server program here (Debian package redis-server)")


def rehearse(*args: str, timeout: float = HANG) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "checkin.cli", "rehearse", "--lang", "en", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.slow
def test_three_servers_survive_a_kill_and_a_redis_restart(tmp_path: Path) -> None:
    need_redis_server()
    summary = tmp_path / "summary.json"
    with fresh_database(empty=True) as db:
        done = rehearse(
            "--registrants", "40", "--viewers", "60", "--speed", "90", "--kiosks", "3", "--dashboards", "6",
            "--servers", "3", "--db", db, "--faults", "kill,redis", "--json", str(summary),
        )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    result: dict[str, Any] = json.loads(summary.read_text())
    assert result["ok"] is True and result["problems"] == [] and result["people_differences"] == []
    assert result["options"]["servers"] == 3 and result["options"]["database"] == "postgresql"
    assert result["options"]["redis"] == "own"
    figures = {row["figure"]: row for row in result["figures"]}
    for name in ("checked_in", "in_hall", "online_now", "peak", "unique", "attended"):
        assert {"stats", "stats@2", "stats@3", "dashboard", "dashboard@2", "dashboard@3"} <= set(
            figures[name]["observed"]
        ), name
        assert figures[name]["ok"], figures[name]
    assert figures["checked_in"]["expected"] > 25
    kill, restart = result["faults"]
    assert kill["fault"] == "kill" and kill["server"] == 2 and kill["restart_ms"] > 0
    assert restart["fault"] == "redis" and restart["down_s"] > 0
    for fault in (kill, restart):
        assert fault["exact_s"] is not None and fault["settled_s"] is not None, fault
    assert kill["viewer_reconnects"] > 0  # the killed server's viewers went to the others
    assert result["counts"]["killed"] == 1 and result["counts"]["redis_restarts"] == 1
    assert "kill -9 of server 2" in done.stdout and "Redis stopped and started" in done.stdout
    assert "PASS" in done.stdout


def test_several_servers_on_sqlite_are_refused(tmp_path: Path) -> None:
    """As `serve --workers 3` on SQLite: exit 2, saying what to give, and nothing started."""
    done = rehearse("--servers", "3", timeout=60)
    assert done.returncode == 2
    assert "--db" in done.stderr and "PostgreSQL" in done.stderr
    done = rehearse("--servers", "2", "--db", str(tmp_path / "x.db"), timeout=60)
    assert done.returncode == 2 and "postgresql://" in done.stderr
    assert not (tmp_path / "x.db").exists()


def test_the_redis_fault_never_restarts_a_redis_it_was_given() -> None:
    done = rehearse("--faults", "redis", "--redis", "redis://127.0.0.1:6379/0", timeout=60)
    assert done.returncode == 2 and "leave out --redis" in done.stderr


def test_a_database_that_is_not_empty_is_refused() -> None:
    """A database with the schema (perhaps the event day's own) is never played on."""
    with fresh_database() as db:
        done = rehearse("--servers", "2", "--db", db, timeout=60)
    assert done.returncode == 2
    assert "not empty" in done.stderr


@pytest.mark.slow
def test_a_wrong_truth_fails_a_multi_server_rehearsal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Our record misses one check-in: the check after the kill and every source at the end must say so."""
    need_redis_server()
    real_check_in = Truth.check_in
    dropped: list[int] = []

    def forgetful(self: Truth, key: int, at: float) -> None:
        if not dropped:
            dropped.append(key)
            return
        real_check_in(self, key, at)

    monkeypatch.setattr(Truth, "check_in", forgetful)
    summary = tmp_path / "summary.json"
    with fresh_database(empty=True) as db:
        opts = run.Options(
            registrants=20, viewers=10, kiosks=2, dashboards=2, speed=120, faults=parse_faults("kill"), url=None,
            token=None, event=None, lang="en", json_file=summary, seed=1, db=db, servers=2,
        )  # fmt: skip
        status = asyncio.run(run.rehearse(opts))
    result = json.loads(summary.read_text())
    assert status == 1 and result["ok"] is False and dropped
    checked_in = next(row for row in result["figures"] if row["figure"] == "checked_in")
    assert not checked_in["ok"]
    assert {"stats", "stats@2", "dashboard", "dashboard@2", "report", "csv"} <= set(checked_in["observed"])
    assert set(checked_in["observed"].values()) == {checked_in["expected"] + 1}  # every server and file: one more
    assert any(p.startswith("kill of server 2: the figures were not exact") for p in result["problems"])
    assert result["faults"][0]["inexact_checks"] > 0

"""`checkin backup` of a real server's database while kiosks scan: a consistent copy holding every answered scan."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import sqlite3
import sys
import uuid
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from checkin.models import Role
from checkin.settings import Settings
from checkin.storage import opened
from tests.conftest import make_token, seed_event
from tests.door_helpers import code_of, register
from tests.serve_process import ServerProcess, running
from tests.test_disk_faults import fill, mounted
from tests.utils import EVENT, free_port

pytestmark = pytest.mark.slow

PEOPLE = 300
CLIENTS = 8


async def scanning(
    server: ServerProcess, token: str, codes: list[str], answered: list[str], stop: asyncio.Event
) -> None:
    """One kiosk scanning as fast as it is answered; the scan ids answered with a 200, in order."""
    headers = {"authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=30) as client:
        while not stop.is_set():
            scan_id = str(uuid.uuid4())
            response = await client.post(
                f"/api/v1/events/{EVENT.slug}/scans", json={"code": random.choice(codes), "scan_id": scan_id}
            )
            assert response.status_code == 200, response.text
            answered.append(scan_id)


async def backup(db: Path, target: Path) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "checkin.cli",
        "backup",
        "--db",
        str(db),
        str(target),
        env={**os.environ, "CHECKIN_SQLITE_SYNCHRONOUS": "NORMAL"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")


async def test_a_backup_during_a_scanning_rush_is_consistent_and_complete(tmp_path: Path) -> None:
    """Kiosks scan without pause while `checkin backup` runs: the copy passes integrity_check and holds
    every scan answered before the backup started."""
    db = tmp_path / "checkin.db"
    settings = Settings(db_path=db, sqlite_synchronous="NORMAL")
    event = seed_event(settings, replace(EVENT, capacity=PEOPLE))
    with opened(settings) as database:
        codes = [code_of(person) for person in register(database, event, PEOPLE)]
    token = make_token(settings, event, Role.KIOSK)
    copy = tmp_path / "copy.db"
    env = {"CHECKIN_QR_WORKERS": "0", "CHECKIN_WATCH_GRACE": "12"}
    with running(db, free_port(), tmp_path / "server.log", env) as server:
        stop = asyncio.Event()
        answered: list[list[str]] = [[] for _ in range(CLIENTS)]
        kiosks = [asyncio.create_task(scanning(server, token, codes, mine, stop)) for mine in answered]
        try:
            while sum(map(len, answered)) < 300:
                await asyncio.sleep(0.05)
            before = {scan_id for mine in answered for scan_id in mine}
            status, output = await backup(db, copy)
            during = sum(map(len, answered)) - len(before)
            await asyncio.sleep(0.3)
        finally:
            stop.set()
            await asyncio.gather(*kiosks)
    assert status == 0, output
    assert during > 0, "the kiosks kept scanning while the backup ran"
    with contextlib.closing(sqlite3.connect(copy)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        stored = {row[0] for row in conn.execute("SELECT scan_id FROM scans")}
        counts = conn.execute("SELECT checked_in FROM attendance_counts").fetchone()[0]
        attended = conn.execute("SELECT COUNT(*) FROM attendance").fetchone()[0]
    assert before <= stored
    assert counts == attended  # the trigger-kept count agrees with the rows: one consistent moment


def test_a_backup_that_cannot_finish_leaves_no_file_and_can_be_run_again(tmp_path: Path) -> None:
    """The backup's disk is full: the command fails saying so and leaves nothing that looks like a backup;
    with space again, the same command makes a sound copy."""
    settings = Settings(db_path=tmp_path / "checkin.db", sqlite_synchronous="NORMAL")
    event = seed_event(settings, replace(EVENT, capacity=PEOPLE))
    with opened(settings) as database:
        register(database, event, PEOPLE)
    target_disk = tmp_path / "usb"
    with mounted(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(target_disk)], target_disk):
        ballast = fill(target_disk)
        target = target_disk / "copy.db"
        status, output = asyncio.run(backup(settings.db_path, target))
        assert status == 1 and output.startswith("error: no backup made: database or disk is full"), output
        assert "Traceback" not in output
        assert sorted(path.name for path in target_disk.iterdir()) == ["ballast"]
        ballast.unlink()
        status, output = asyncio.run(backup(settings.db_path, target))
        assert status == 0, output
        with contextlib.closing(sqlite3.connect(target)) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert conn.execute("SELECT COUNT(*) FROM registrants").fetchone()[0] == PEOPLE
        assert sorted(path.name for path in target_disk.iterdir()) == ["copy.db"]

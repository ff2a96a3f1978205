"""The disk under a real `checkin serve` fills up or turns read-only: clear 503s, nothing answered ok lost,
no corruption, and scans go through again once the disk is back.

The filesystems are made here (a small tmpfs; an ext4 image on a loop device), which needs root.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
import pytest

from checkin.models import Event, Role
from checkin.settings import Settings
from checkin.storage import opened
from tests.conftest import make_token, seed_event
from tests.door_helpers import code_of, register
from tests.serve_process import ServerProcess, running
from tests.utils import EVENT, free_port

pytestmark = pytest.mark.slow

PEOPLE = 400
ENV = {"CHECKIN_QR_WORKERS": "0", "CHECKIN_SQLITE_SYNCHRONOUS": "FULL"}


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False)


@contextlib.contextmanager
def mounted(command: list[str], target: Path) -> Iterator[Path]:
    """Mount with `command` (ending in the target), or skip the test saying why; unmounted at the end."""
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small filesystem (CI runs as root)")
    target.mkdir(parents=True, exist_ok=True)
    done = _run(*command)
    if done.returncode != 0:
        pytest.skip(f"cannot mount here: {done.stderr.strip()}")
    try:
        yield target
    finally:
        _run("umount", str(target))


@dataclass
class Door:
    """A kiosk scanning at a server: which scans were answered ok, which were refused for the disk."""

    settings: Settings
    event: Event
    token: str
    codes: list[str]
    answered_ok: dict[str, str] = field(default_factory=dict)  # scan_id -> code
    unavailable: list[tuple[str, str]] = field(default_factory=list)  # (scan_id, code), to send again

    def scan(self, server: ServerProcess, code: str, scan_id: str | None = None) -> httpx.Response:
        scan_id = scan_id or str(uuid.uuid4())
        response = httpx.post(
            f"{server.url}/api/v1/events/{self.event.slug}/scans",
            json={"code": code, "scan_id": scan_id},
            headers={"authorization": f"Bearer {self.token}"},
            timeout=60,
        )
        if response.status_code == 200:
            assert response.json()["result"] == "ok", response.text
            self.answered_ok[scan_id] = code
        else:
            assert response.status_code == 503, response.text
            assert response.json()["error"] == "storage_unavailable"
            assert int(response.headers["retry-after"]) > 0
            self.unavailable.append((scan_id, code))
        return response

    def scan_until_refused(self, server: ServerProcess) -> None:
        """Scan the next people until the server refuses one for the disk."""
        while not self.unavailable:
            assert self.codes, "the server never refused a scan"
            self.scan(server, self.codes.pop())

    def retry_refused(self, server: ServerProcess) -> None:
        """The kiosk's queue: the refused scans again, with their own scan ids."""
        refused, self.unavailable = self.unavailable, []
        for scan_id, code in refused:
            assert self.scan(server, code, scan_id).status_code == 200


def door(db: Path) -> Door:
    settings = Settings(db_path=db, sqlite_synchronous="NORMAL")
    event = seed_event(settings, replace(EVENT, capacity=PEOPLE))
    with opened(settings) as database:
        codes = [code_of(person) for person in register(database, event, PEOPLE)]
    return Door(settings, event, make_token(settings, event, Role.KIOSK), codes)


def check_database(db: Path, answered_ok: dict[str, str]) -> None:
    """Not corrupt, and every scan answered ok is in it."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        stored = {row[0] for row in conn.execute("SELECT scan_id FROM scans WHERE result = 'ok'")}
    assert set(answered_ok) <= stored


def fill(folder: Path) -> Path:
    """Write a file until the filesystem is full; the file."""
    ballast = folder / "ballast"
    chunk = b"\0" * 65536
    with ballast.open("wb", buffering=0) as out:
        while True:
            try:
                out.write(chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                break
    with contextlib.suppress(OSError), ballast.open("ab", buffering=0) as out:  # the last few bytes too
        while out.write(b"\0" * 512):
            pass
    return ballast


def test_a_full_disk_answers_503_loses_nothing_and_recovers(tmp_path: Path) -> None:
    """Disk full under the server: 503 storage_unavailable with Retry-After; space back: the same scans pass."""
    disk = tmp_path / "disk"
    with mounted(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(disk)], disk):
        db = disk / "checkin.db"
        kiosk = door(db)
        with running(db, free_port(), tmp_path / "server.log", ENV) as server:
            for _ in range(10):
                assert kiosk.scan(server, kiosk.codes.pop()).status_code == 200
            ballast = fill(disk)
            kiosk.scan_until_refused(server)
            assert httpx.get(server.url + "/healthz").status_code == 200
            ballast.unlink()
            kiosk.retry_refused(server)
            for _ in range(10):
                assert kiosk.scan(server, kiosk.codes.pop()).status_code == 200
        check_database(db, kiosk.answered_ok)


def test_a_disk_turned_read_only_answers_503_and_loses_nothing(tmp_path: Path) -> None:
    """ext4 turns itself read-only under the server (errors=remount-ro, as after an I/O error): 503s; after
    a repair, the database is intact with every scan answered ok, and the refused scans go through."""
    image = tmp_path / "disk.img"
    with image.open("wb") as out:
        out.truncate(64 * 1024 * 1024)
    if _run("mkfs.ext4", "-q", str(image)).returncode != 0:
        pytest.skip("mkfs.ext4 is not available")
    disk = tmp_path / "disk"
    mount = ["mount", "-o", "loop,errors=remount-ro", str(image), str(disk)]
    with mounted(mount, disk):
        device = Path(_run("findmnt", "-n", "-o", "SOURCE", str(disk)).stdout.strip())
        trigger = Path("/sys/fs/ext4") / device.name / "trigger_fs_error"
        if not trigger.exists():
            pytest.skip("this kernel cannot turn ext4 read-only on demand (no trigger_fs_error)")
        db = disk / "checkin.db"
        kiosk = door(db)
        with running(db, free_port(), tmp_path / "server.log", ENV) as server:
            for _ in range(10):
                assert kiosk.scan(server, kiosk.codes.pop()).status_code == 200
            trigger.write_text("the disk failed")
            kiosk.scan_until_refused(server)
            for _ in range(3):  # and it stays refused, without a 500, while the disk is read-only
                assert kiosk.scan(server, kiosk.codes.pop()).status_code == 503
    assert _run("e2fsck", "-fy", str(image)).returncode in {0, 1}  # repaired (1: errors corrected)
    with mounted(mount, disk):
        check_database(db, kiosk.answered_ok)
        with running(db, free_port(), tmp_path / "again.log", ENV) as server:
            kiosk.retry_refused(server)
        check_database(db, kiosk.answered_ok)

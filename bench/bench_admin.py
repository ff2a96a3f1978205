"""The organisers' side: the cost of one argon2id password check, and how fast the admin's registrant
list, search and registrant page answer with 10,000 registrants (a real `checkin serve`, one client)."""

from __future__ import annotations

import re
import sqlite3
import tempfile
import time
from datetime import date
from pathlib import Path

import httpx

from bench.common import machine, median, percentile, server
from checkin import staff
from checkin.demo import SYMPOSIUM, generated_applications
from checkin.models import Role
from checkin.storage import Database
from checkin.storage import registrants as store
from checkin.storage.events import create_event
from checkin.storage.users import create_user

REGISTRANTS = 10_000
REQUESTS = 40
PASSWORD = "benchmark password"


def password_check_ms(runs: int = 7) -> float:
    """Median milliseconds of one verification with the production parameters."""
    hashed = staff.hash_password(PASSWORD)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        staff.verify_password(hashed, PASSWORD)
        times.append((time.perf_counter() - start) * 1000)
    return median(times)


def seed(path: Path) -> int:
    """An event with REGISTRANTS registrants and an organiser login; returns the last registrant id."""
    db = Database(path, "NORMAL")
    db.open()
    try:
        event = db.write_sync(create_event, SYMPOSIUM, time.time())
        apps = generated_applications(REGISTRANTS)

        def fill(conn: sqlite3.Connection) -> int:
            last = 0
            for number, app in enumerate(apps):
                result = store.register(conn, event, app, time.time(), source="import", ref_no=f"R{number:07d}",
                                        waitlist=True, enforce_open=False)  # fmt: skip
                last = result.registrant.id
            return last

        last = db.write_sync(fill)
        db.write_sync(create_user, "bench", staff.hash_password(PASSWORD), Role.ORGANISER, time.time())
        return last
    finally:
        db.close()


def timed(client: httpx.Client, path: str) -> list[float]:
    """Milliseconds of REQUESTS sequential GETs of one admin page."""
    times = []
    for _ in range(REQUESTS):
        start = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.status_code
    return times


def main() -> None:
    print(f"{date.today()} · {machine()}")
    print(f"argon2id password check (46 MiB, t=1, p=1): median {password_check_ms():.0f} ms")
    with tempfile.TemporaryDirectory() as tmp:
        last = seed(Path(tmp) / "bench.db")
        env = {"CHECKIN_SQLITE_SYNCHRONOUS": "NORMAL"}
        with server(Path(tmp) / "bench.db", env=env) as url, httpx.Client(base_url=url, timeout=30) as client:
            form = client.get("/admin/login").text
            token = re.search(r'name="csrf" value="([^"]+)"', form)
            assert token is not None
            client.post("/admin/login", data={"login": "bench", "password": PASSWORD, "csrf": token.group(1)})
            base = f"/admin/events/{SYMPOSIUM.slug}"
            pages = {
                "list, page 1": f"{base}/registrants",
                "list, page 150": f"{base}/registrants?page=150",
                "search 'たかはし' + venue filter": f"{base}/registrants?q=たかはし&mode=venue",
                "search by e-mail (one hit)": f"{base}/registrants?q=demo0042@example.jp",
                "one registrant's page": f"{base}/registrants/{last}",
            }
            for label, path in pages.items():
                times = timed(client, path)
                print(f"{label:34} median {median(times):6.1f} ms  p95 {percentile(times, 95):6.1f} ms")
    print(f"({REGISTRANTS} registrants, {REQUESTS} sequential requests per page, one client)")

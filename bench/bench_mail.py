"""Ticket e-mail sending rate: `send_unsent` (what `checkin tickets send` runs) to a local SMTP server.

The SMTP server is aiosmtpd's Sink in its own process on 127.0.0.1; the sender runs here with a
fresh database of registered people each run (synchronous=FULL, as in production). Also the rate
into the outbox folder. Medians of several runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

from bench.common import free_port, machine, median
from checkin import mailer
from checkin.demo import SYMPOSIUM, generated_applications
from checkin.services import build
from checkin.settings import Settings, SmtpSettings
from checkin.storage import Database
from checkin.storage import mail as mailstore
from checkin.storage import registrants as store
from checkin.storage.events import create_event, get_event

PEOPLE = 400
RUNS = 5


@contextlib.contextmanager
def smtp_sink() -> Iterator[int]:
    """aiosmtpd's Sink handler (accepts and discards) in a subprocess; yields its port."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c", "aiosmtpd.handlers.Sink"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def seed(path: Path) -> None:
    """An event with PEOPLE registered people (all with tickets)."""
    db = Database(path, "FULL")
    db.open()
    try:
        event = db.write_sync(create_event, replace(SYMPOSIUM, capacity=PEOPLE), time.time())

        def register_all(conn: sqlite3.Connection) -> None:
            for number, app in enumerate(generated_applications(PEOPLE), start=1):
                store.register(conn, event, app, time.time(), source="import", ref_no=f"R{number:07d}")

        db.write_sync(register_all)
    finally:
        db.close()


def one_run(smtp: SmtpSettings) -> float:
    """Messages per second for one fresh run."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        seed(path)
        settings = Settings(db_path=path, qr_workers=0, smtp=replace(smtp, outbox=Path(tmp) / "outbox"))
        svc = build(settings)
        svc.start()
        try:
            event = svc.db.read_sync(get_event, SYMPOSIUM.slug)
            items = svc.db.read_sync(mailstore.unsent, event.id)
            started = time.perf_counter()
            report = asyncio.run(mailer.send_unsent(svc, event, items))
            elapsed = time.perf_counter() - started
        finally:
            svc.stop()
    assert report.sent == PEOPLE, report
    return PEOPLE / elapsed


def main() -> None:
    with smtp_sink() as port:
        smtp_rates = [one_run(SmtpSettings(host="127.0.0.1", port=port, security="none")) for _ in range(RUNS)]
    outbox_rates = [one_run(SmtpSettings()) for _ in range(RUNS)]
    print(f"{date.today()} · {machine()}")
    print(f"ticket e-mail, {PEOPLE} messages, median of {RUNS} runs (synchronous=FULL):")
    print(
        f"  SMTP (aiosmtpd Sink on 127.0.0.1): {median(smtp_rates):.0f} messages/s  (runs: "
        + ", ".join(f"{r:.0f}" for r in smtp_rates)
        + ")"
    )
    print(
        f"  outbox folder (.eml files):        {median(outbox_rates):.0f} messages/s  (runs: "
        + ", ".join(f"{r:.0f}" for r in outbox_rates)
        + ")"
    )


if __name__ == "__main__":
    main()

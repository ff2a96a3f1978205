"""`checkin backup` while 32 kiosks scan at a steady 200 scans/s: how long the copy takes, whether it is
consistent (integrity_check) and complete (every scan answered ok before it started), and what it does
to the scans' latency. Run: `python -m bench backup` (BENCH_TICKETS and BENCH_SECONDS override).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.bench_scans import KIOSKS, RATE, fresh_copy, paced_scans_samples, seed
from bench.common import Sample, machine, paced_summary, spawn_server

BACKUP_AFTER = 3.0  # seconds into the steady load


def backup(db: Path, target: Path) -> tuple[float, float]:
    """Run `checkin backup`; (wall time it started, seconds it took)."""
    started_at = time.time()
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "checkin.cli", "backup", "--db", str(db), str(target)],
        check=True,
        capture_output=True,
    )
    return started_at, time.perf_counter() - started


def main() -> None:
    tickets = int(os.environ.get("BENCH_TICKETS", "100000"))
    seconds = float(os.environ.get("BENCH_SECONDS", "10"))
    print(f"{time.strftime('%Y-%m-%d')} · {machine()}; load average {os.getloadavg()[0]:.1f}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        seeded = seed(folder, tickets)
        run_db = fresh_copy(folder, seeded)
        proc, url = spawn_server(run_db, {"CHECKIN_SQLITE_SYNCHRONOUS": "FULL", "CHECKIN_QR_WORKERS": "0"})
        samples: list[Sample] = []
        try:
            codes = seeded.codes[: int(seconds * RATE) + KIOSKS]
            load = threading.Thread(target=lambda: samples.extend(paced_scans_samples(url, seeded, codes, seconds)))
            load.start()
            time.sleep(1.5 + BACKUP_AFTER)  # the paced load starts 1.5 s after it is planned
            copy = folder / "copy.db"
            started_at, took = backup(run_db, copy)
            load.join()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        before = {json.loads(s.body)["scan_id"] for s in samples if s.status == 200 and s.done_at < started_at}
        with contextlib.closing(sqlite3.connect(copy)) as conn:
            integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
            stored = {row[0] for row in conn.execute("SELECT scan_id FROM scans")}
        size = copy.stat().st_size / 1e6
    during = [s for s in samples if started_at <= s.done_at <= started_at + took + 0.5]
    summary = paced_summary(samples, RATE)
    print(
        f"backup of {size:.0f} MB ({tickets} tickets) during {RATE:.0f} scans/s: {took:.2f} s,"
        f" integrity_check {integrity}, {len(before)} scans answered ok before it, {len(before - stored)} missing;"
        f" scans p99 {summary['p99']:.1f} ms overall, max {max(s.sent_ms for s in during):.1f} ms while copying,"
        f" non-2xx {summary['non2xx']:.0f}",
        flush=True,
    )


if __name__ == "__main__":
    main()

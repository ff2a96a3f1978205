"""Dashboard across processes: from a scan's answer at one server to the snapshot that shows it at another.

SERVERS separate `checkin serve` processes on one PostgreSQL database and one Redis (the hub tells every
server of a change through Redis; each makes its own snapshots). 99 reading dashboards are spread evenly
over them, scans at 200/s go to them in turn, and the probe (as in `bench_dashboard`) follows the dashboard
at the first server while it scans through the last, so every probe crosses processes: the scan is
committed by one server, published through Redis, and read back from PostgreSQL by another.

The event is seeded into SQLite as `bench_dashboard` does and copied into PostgreSQL with `checkin copy-db`.
Run: `python -m bench dashboard_scaled` (BENCH_SERVERS, default 3).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from bench import backends, common
from bench.bench_dashboard import ENV, HALL, PROBE_POOL, RATE, probe_runs, report_latencies, seed

SERVERS = int(os.environ.get("BENCH_SERVERS", "3"))
# (snapshot interval, background scans/s): the faster interval that met both goals on one process, the default,
# and the faster one at a rate the servers keep up with on the 2-core test machine
CASES = ((0.125, RATE), (0.2, RATE), (0.125, RATE / 4))


def main() -> None:
    print(f"{time.strftime('%Y-%m-%d %H:%M')} · {common.machine()} · load {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "bench.db"
        setup = seed(db, HALL + PROBE_POOL)
        with (
            backends.seeded_template(db) as template,
            backends.fresh_database(template) as url,
            backends.redis_prefix() as prefix,
        ):
            counters = {"door": 0, "probe": 0}
            runs: dict[tuple[float, float], list[dict[str, Any]]] = {}
            for case in CASES:
                env = {
                    **ENV,
                    "CHECKIN_REDIS_URL": backends.REDIS,
                    "CHECKIN_REDIS_PREFIX": prefix,
                    "CHECKIN_DASHBOARD_INTERVAL": str(case[0]),
                }
                with contextlib.ExitStack() as servers:
                    urls = [servers.enter_context(common.server(url, env)) for _ in range(SERVERS)]
                    runs[case] = probe_runs(urls, setup, case, counters)
                print(f"  load {os.getloadavg()}", flush=True)
    print(f"\n### Scan → dashboard across {SERVERS} processes ({date.today().isoformat()})\n\n{common.machine()}\n")
    report_latencies(runs)

"""Registrations through the HTTP API with capacity enforcement, from 32 concurrent clients: at a steady
500/s (the goal's rate: latency from sending and from the planned time), and flat out (wrk, the ceiling).

Each run starts a real `checkin serve` on a fresh database with an event of 300 seats and a waiting
list: every request is a new person (unique e-mail), half for the venue and half online, so the
capacity check runs on every venue application and the hall fills up early in the run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from bench.common import machine, median, paced, paced_summary, post_request, server
from checkin.models import Event, parse_iso
from checkin.storage import Database
from checkin.storage import registrants as store
from checkin.storage.events import create_event

RUNS = 3
SECONDS = 10
CONNECTIONS = 32
RATE = 500.0
PROCESSES = 4
LUA = Path(__file__).resolve().parent / "register.lua"
EVENT = Event(
    id=0,
    slug="bench",
    title="負荷試験シンポジウム",
    starts_at=parse_iso("2023-11-27T13:30:00+09:00"),
    ends_at=parse_iso("2023-11-27T16:30:00+09:00"),
    capacity=300,
)
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass(frozen=True)
class Run:
    rate: float
    p50_ms: float
    p99_ms: float
    errors: int
    seated: int


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def parse_wrk(output: str) -> tuple[float, float, float, int]:
    """Requests/s, p50 and p99 latency (ms) and non-2xx answers from `wrk --latency` output."""
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors:.*", output)
    return rate, p50, p99, (int(bad.group(1)) if bad else 0) + (1 if errors else 0)


def _fresh_event(path: Path, synchronous: str) -> Event:
    db = Database(path, synchronous)
    db.open()
    event = db.write_sync(create_event, replace(EVENT), time.time())
    db.close()
    return event


def _seats_taken(path: Path, synchronous: str, event: Event) -> int:
    db = Database(path, synchronous)
    db.open()
    seated = db.read_sync(store.seats_taken, event.id)
    db.close()
    return seated


def _env(synchronous: str, folder: Path) -> dict[str, str]:
    """The server's settings: each registration's ticket e-mail goes to an outbox folder of the run; every
    client is on this machine's one address, so the per-address limits are off as for any load test."""
    return {
        "CHECKIN_RATE_LIMITS": "off",
        "CHECKIN_SQLITE_SYNCHRONOUS": synchronous,
        "CHECKIN_QR_WORKERS": "0",
        "CHECKIN_OUTBOX": str(folder / "outbox"),
    }


def paced_run(synchronous: str, tag: str) -> dict[str, float]:
    """RATE registrations/s for SECONDS from CONNECTIONS clients (PROCESSES client processes), each request
    a new person, alternately venue and online: latency percentiles, non-2xx, achieved rate and outcomes."""
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        event = _fresh_event(path, synchronous)
        with server(path, _env(synchronous, Path(tmp))) as url:
            target = f"/api/v1/events/{event.slug}/registrations"
            per_client = int(SECONDS * RATE / CONNECTIONS)
            request_lists = [
                [
                    post_request(
                        url,
                        target,
                        {
                            "name": "負荷 試験",
                            "kana": "フカ シケン",
                            "email": f"p{client}.{n}.{tag}@example.jp",
                            "organisation": "試験",
                            "mode": "venue" if (client + n) % 2 else "online",
                        },
                    )
                    for n in range(per_client)
                ]
                for client in range(CONNECTIONS)
            ]
            samples = paced(url, request_lists, RATE, PROCESSES)
        seated = _seats_taken(path, synchronous, event)
        mailed = len(list((Path(tmp) / "outbox").glob("*.eml")))
    outcomes = Counter(json.loads(s.body)["registrant"]["status"] for s in samples if s.status == 201)
    return {
        **paced_summary(samples, RATE),
        "seated": seated,
        "mailed": mailed,
        "load": load,
        **{f"n_{k}": v for k, v in outcomes.items()},
    }


def one_run(synchronous: str, tag: str) -> Run:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        event = _fresh_event(path, synchronous)
        with server(path, _env(synchronous, Path(tmp))) as url:
            command = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--latency", "-s", str(LUA)]
            target = f"{url}/api/v1/events/{event.slug}/registrations"
            output = subprocess.run([*command, target, "--", tag], capture_output=True, text=True, check=True).stdout
        seated = _seats_taken(path, synchronous, event)
    rate, p50, p99, errors = parse_wrk(output)
    return Run(rate, p50, p99, errors, seated)


def main() -> None:
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f} (the cores are shared)")
    for synchronous in ("FULL", "NORMAL"):
        steady = [paced_run(synchronous, f"s{n}") for n in range(RUNS)]
        print(
            f"synchronous={synchronous}: steady {RATE:.0f} registrations/s planned from {CONNECTIONS} clients: "
            f"achieved {median([r['rate'] for r in steady]):.0f}/s, p50 {median([r['p50'] for r in steady]):.1f} ms, "
            f"p99 {median([r['p99'] for r in steady]):.1f} ms "
            f"(from planned time {median([r['p99_from_due'] for r in steady]):.1f} ms), "
            f"non-2xx {sum(r['non2xx'] for r in steady):.0f} (median of {RUNS} runs of {SECONDS} s)"
        )
        for r in steady:
            outcomes = ", ".join(f"{k[2:]} {v:.0f}" for k, v in sorted(r.items()) if k.startswith("n_"))
            print(
                f"  steady run: {r['requests']:.0f} sent, {r['rate']:.0f}/s, p50 {r['p50']:.1f} ms "
                f"p99 {r['p99']:.1f} ms (from planned {r['p99_from_due']:.1f} ms, max {r['max']:.1f} ms), "
                f"non-2xx {r['non2xx']:.0f}; {outcomes}; venue seats taken {r['seated']:.0f}/{EVENT.capacity}; "
                f"tickets e-mailed by the end {r['mailed']:.0f}; load average {r['load']:.1f} at its start",
                flush=True,
            )
        runs = [one_run(synchronous, f"r{n}") for n in range(RUNS)]
        print(
            f"synchronous={synchronous}: {median([r.rate for r in runs]):.0f} registrations/s, "
            f"p50 {median([r.p50_ms for r in runs]):.1f} ms, p99 {median([r.p99_ms for r in runs]):.1f} ms "
            f"(median of {RUNS} runs of {SECONDS} s, {CONNECTIONS} connections)"
        )
        for run in runs:
            print(
                f"  run: {run.rate:.0f}/s p50 {run.p50_ms:.1f} ms p99 {run.p99_ms:.1f} ms, "
                f"non-2xx {run.errors}, venue seats taken {run.seated}/{EVENT.capacity}"
            )


if __name__ == "__main__":
    main()

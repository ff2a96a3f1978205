"""The door under attack: kiosk scans at a steady 200/s from 127.0.0.1 while anonymous attackers on
127.0.0.2-127.0.0.4 flood websocket fragments (3 sockets) and hold 150 half-open HTTP requests, with
the server's per-address limits on (its defaults). Reports the kiosks' p99 and /healthz latency beside
the same load without attackers.

Run: `python -m bench hostile` (BENCH_RUNS, BENCH_SECONDS and BENCH_TICKETS override the defaults).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import multiprocessing
import os
import tempfile
import time
from multiprocessing.synchronize import Event as StopFlag
from pathlib import Path

import httpx

from bench.bench_scans import KIOSKS, RATE, Seeded, fresh_copy, paced_scans, seed
from bench.common import machine, median, percentile, spawn_server

ATTACKERS = ("127.0.0.2", "127.0.0.3", "127.0.0.4")
FLOOD_SOCKETS = 3
HALF_OPEN = 150
FRAGMENT_START = bytes.fromhex("01810000000061")  # text frame, FIN=0, masked (key 0), payload "a"
CONTINUATION = bytes.fromhex("008000000000")  # empty continuation frame, FIN=0, masked
BATCH = CONTINUATION * 2000
# A flooding socket the server closed opens again after this long: three sockets flood all the time
# (a client reconnecting in a tight loop is another attack, turned away by the new-connection rate).
RECONNECT_AFTER = 0.1


def _handshake(port: int, path: str) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


async def _flood(port: int, source: str, stop: StopFlag, counts: dict[str, int]) -> None:
    """One fragment-flooding socket, reconnecting whenever the server closes it."""
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
        except OSError:
            await asyncio.sleep(0.05)
            continue
        counts["connections"] += 1
        try:
            writer.write(_handshake(port, "/ws/events/no-such-event/watch") + FRAGMENT_START)
            while not stop.is_set() and not reader.at_eof():
                writer.write(BATCH)
                await asyncio.wait_for(writer.drain(), 2)
                counts["frames"] += 2000
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(reader.read(65536), 0.001)
        except (TimeoutError, OSError):
            pass
        finally:
            writer.close()
        await asyncio.sleep(RECONNECT_AFTER)


async def _half_open(port: int, source: str, stop: StopFlag, counts: dict[str, int]) -> None:
    """A request whose headers never end, sent a byte now and then; reopened when the server drops it."""
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
        except OSError:
            await asyncio.sleep(0.5)
            continue
        counts["connections"] += 1
        try:
            writer.write(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Slow: ".encode())
            while not stop.is_set() and not reader.at_eof():
                writer.write(b"a")
                await writer.drain()
                with contextlib.suppress(TimeoutError):
                    if await asyncio.wait_for(reader.read(1024), 1.0) == b"":
                        counts["dropped"] += 1  # the server gave up on it
                        break
        except OSError:
            counts["dropped"] += 1
        finally:
            writer.close()


def _attacker(port: int, source: str, floods: int, half_open: int, stop: StopFlag, out: dict[str, int]) -> None:
    # The attackers share this 2-core machine with the server, which a remote attacker does not: their
    # own CPU goes last, so what is measured is what their traffic costs the server.
    os.nice(19)
    counts = {"connections": 0, "frames": 0, "dropped": 0}

    async def run() -> None:
        jobs = [_flood(port, source, stop, counts) for _ in range(floods)]
        jobs += [_half_open(port, source, stop, counts) for _ in range(half_open)]
        await asyncio.gather(*jobs)

    asyncio.run(run())
    for key, value in counts.items():
        out[f"{source}:{key}"] = value


def _health_probe(url: str, stop: StopFlag, out: list[float]) -> None:
    """GET /healthz every 100 ms on a fresh connection (as a load balancer does); latencies in ms."""
    with httpx.Client(timeout=30) as http:
        while not stop.is_set():
            started = time.perf_counter()
            try:
                http.get(url + "/healthz", headers={"Connection": "close"})
                out.append((time.perf_counter() - started) * 1000)
            except httpx.HTTPError:
                out.append(30_000.0)
            time.sleep(0.1)


def one_run(folder: Path, seeded: Seeded, codes: list[str], seconds: float, attack: bool) -> dict[str, float]:
    """A fresh server, optionally attacked, under RATE kiosk scans/s for `seconds`."""
    proc, url = spawn_server(
        fresh_copy(folder, seeded), {"CHECKIN_SQLITE_SYNCHRONOUS": "FULL", "CHECKIN_RATE_LIMITS": "on"}
    )
    port = int(url.rsplit(":", 1)[1])
    manager = multiprocessing.Manager()
    stop = manager.Event()
    counts = manager.dict()
    health = manager.list()
    workers = [multiprocessing.Process(target=_health_probe, args=(url, stop, health))]
    if attack:
        workers += [
            multiprocessing.Process(
                target=_attacker,
                args=(port, source, 1 if n < FLOOD_SOCKETS else 0, HALF_OPEN // len(ATTACKERS), stop, counts),
            )
            for n, source in enumerate(ATTACKERS)
        ]
    try:
        for worker in workers:
            worker.start()
        time.sleep(3 if attack else 0.5)  # the attack is under way before the first kiosk scans
        result = paced_scans(url, seeded, codes, seconds)
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=10)
            if worker.is_alive():
                worker.kill()
        proc.terminate()
        proc.wait(timeout=30)
    latencies = list(health)
    result["healthz_p50"] = percentile(latencies, 50)
    result["healthz_max"] = max(latencies) if latencies else float("nan")
    result["flood_frames"] = float(sum(v for k, v in counts.items() if k.endswith(":frames")))
    result["flood_dropped"] = float(sum(v for k, v in counts.items() if k.endswith(":dropped")))
    result["attack_connections"] = float(sum(v for k, v in counts.items() if k.endswith(":connections")))
    manager.shutdown()
    return result


def main() -> None:
    tickets = int(os.environ.get("BENCH_TICKETS", "20000"))
    runs = int(os.environ.get("BENCH_RUNS", "3"))
    seconds = float(os.environ.get("BENCH_SECONDS", "15"))
    print(f"{time.strftime('%Y-%m-%d')} · {machine()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        seeded = seed(folder, tickets)
        codes = seeded.codes[: int(seconds * RATE) + KIOSKS]
        for attack in (False, True):
            rows = [one_run(folder, seeded, codes, seconds, attack) for _ in range(runs)]
            for row in rows:
                print(f"  attack={attack}: {row}", flush=True)

            def mid(key: str, rows: list[dict[str, float]] = rows) -> float:
                return median([row[key] for row in rows])

            label = (
                f"{FLOOD_SOCKETS} fragment-flooding sockets + {HALF_OPEN} half-open requests" if attack else "no attack"
            )
            print(
                f"{label}: {RATE:.0f} scans/s from {KIOSKS} kiosks: p50 {mid('p50'):.1f} ms, p99 {mid('p99'):.1f} ms,"
                f" non-2xx {mid('non2xx'):.0f}; /healthz p50 {mid('healthz_p50'):.1f} ms,"
                f" max {mid('healthz_max'):.1f} ms (medians of {runs} runs)",
                flush=True,
            )

"""Request limits: CPU per counted request while many client addresses are being counted.

Each request is one registration's check (30 a minute and 300 an hour per address) on a fresh address,
spaced 2 ms apart as requests reach a server, after KEYS addresses were already counted. Compares the
`limits` package's memory storage as it comes (a sweep of every key 10 ms after each hit) with
`checkin.ratelimit.SweptMemoryStorage` (one sweep every few seconds).
"""

from __future__ import annotations

import asyncio
import os
import time

from limits.storage import MemoryStorage

from bench.common import machine, median
from checkin.ratelimit import REGISTER, RateLimits

RUNS = 3
REQUESTS = 1000
KEYS = (1_000, 10_000)
SPACING = 0.002


async def cpu_per_request(limits: RateLimits | None, keys: int) -> float:
    """CPU microseconds per counted request, sweeps included, after `keys` addresses were counted
    (no limits: the loop's own cost, to subtract)."""
    for number in range(keys if limits else 0):
        await limits.hit(REGISTER, f"k{number}")  # type: ignore[union-attr]
    started = time.process_time()
    for number in range(REQUESTS):
        if limits is not None:
            await limits.hit(REGISTER, f"new{number}")
        await asyncio.sleep(SPACING)
    return (time.process_time() - started) / REQUESTS * 1e6


def run(keys: int, library: bool) -> float:
    limits = RateLimits()
    if library:
        limits.storage = MemoryStorage()
        limits.limiter = type(limits.limiter)(limits.storage)
    return asyncio.run(cpu_per_request(limits, keys))


def main() -> None:
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f} (the cores are shared)")
    loop = median([asyncio.run(cpu_per_request(None, 0)) for _ in range(RUNS)])
    print(f"the loop alone (no limit): {loop:.0f} µs CPU/request, subtracted below")
    for keys in KEYS:
        library = median([run(keys, library=True) for _ in range(RUNS)]) - loop
        swept = median([run(keys, library=False) for _ in range(RUNS)]) - loop
        print(f"{keys} addresses counted: library memory storage {library:.0f} µs CPU/request; swept {swept:.0f} µs")


if __name__ == "__main__":
    main()

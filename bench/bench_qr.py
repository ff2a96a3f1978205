"""QR tickets in bulk: ms per PNG with the fixed mask vs qrcode's defaults, and tickets/s through the pool.

The server renders through `QrCache` on a `RenderPool` of `CHECKIN_QR_WORKERS` (2) workers; this
measures that same path with distinct codes, so every image is a real rendering (no cache hits).
"""

from __future__ import annotations

import asyncio
import io
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import qrcode

from bench.common import machine, median
from checkin import tickets
from checkin.qrcache import QrCache, RenderPool

RUNS = 3
SINGLE = 300
BULK = 3000
WORKERS = 2


def default_png(code: str) -> bytes:
    """What qrcode + Pillow give with their defaults: all eight masks evaluated, rectangles drawn."""
    out = io.BytesIO()
    qrcode.make(code).save(out, format="PNG")
    return out.getvalue()


def ms_per_png(render: Callable[[str], bytes], codes: list[str]) -> float:
    started = time.perf_counter()
    for code in codes:
        render(code)
    return (time.perf_counter() - started) / len(codes) * 1000


async def pool_rate(pool: RenderPool, codes: list[str]) -> float:
    """Tickets per second rendered through a fresh cache on the pool, all requested at once."""
    cache = QrCache(max_images=len(codes))
    started = time.perf_counter()
    await asyncio.gather(*(cache.png(code, pool.render) for code in codes))
    return len(codes) / (time.perf_counter() - started)


def main() -> None:
    short = [tickets.new_code("telework2023") for _ in range(SINGLE)]
    long = [code + "-" + "X" * (100 - len(code) - 1) for code in short]
    fixed = median([ms_per_png(tickets.render_png, short) for _ in range(RUNS)])
    defaults = median([ms_per_png(default_png, short) for _ in range(RUNS)])
    defaults_long = median([ms_per_png(default_png, long[:100]) for _ in range(RUNS)])
    with ThreadPoolExecutor(1) as fallback:
        pool = RenderPool(WORKERS, fallback)
        pool.start()
        try:
            asyncio.run(pool_rate(pool, short[:50]))  # the workers are up and have imported qrcode
            rates = [
                asyncio.run(pool_rate(pool, [tickets.new_code("telework2023") for _ in range(BULK)]))
                for _ in range(RUNS)
            ]
        finally:
            pool.stop()
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f} (the cores are shared)")
    print(f"single thread, {tickets.CODE_LENGTH}-character code, fixed mask: {fixed:.2f} ms/PNG")
    print(f"single thread, same code, qrcode defaults (masks evaluated): {defaults:.2f} ms/PNG")
    print(f"single thread, 100-character code, qrcode defaults: {defaults_long:.2f} ms/PNG")
    print(f"bulk through QrCache on a RenderPool of {WORKERS}: {median(rates):.0f} tickets/s")
    print(f"  runs: {', '.join(f'{rate:.0f}' for rate in rates)} ({BULK} distinct codes each)")


if __name__ == "__main__":
    main()

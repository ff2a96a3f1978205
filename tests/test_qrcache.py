"""The QR image cache: one rendering per code, off the loop, bounded, failures not kept."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import signal
from concurrent.futures import ThreadPoolExecutor

import pytest
import zxingcpp
from PIL import Image

from checkin import tickets
from checkin.qrcache import QrCache, RenderPool, on


async def test_concurrent_requests_share_one_rendering() -> None:
    """Ten simultaneous requests for one code render it once and all get the same bytes."""
    cache = QrCache()
    code = tickets.new_code("sympo")
    with ThreadPoolExecutor(2) as pool:
        images = await asyncio.gather(*(cache.png(code, on(pool)) for _ in range(10)))
        assert await cache.png(code, on(pool)) == images[0]
    assert cache.renders == 1 and len(set(images)) == 1


async def test_the_cache_is_bounded_least_recently_used_first() -> None:
    """Past its size the cache drops the image used longest ago; forget drops one on purpose."""
    cache = QrCache(max_images=2)
    first, second, third = (tickets.new_code("sympo") for _ in range(3))
    with ThreadPoolExecutor(1) as pool:
        await cache.png(first, on(pool))
        await cache.png(second, on(pool))
        await cache.png(first, on(pool))
        await cache.png(third, on(pool))
        assert len(cache) == 2
        await cache.png(first, on(pool))
        assert cache.renders == 3
        await cache.png(second, on(pool))
        assert cache.renders == 4
        cache.forget(second)
        assert len(cache) == 1


async def test_a_failed_rendering_is_not_kept() -> None:
    """A code that cannot be rendered raises for its callers and is tried again next time."""
    cache = QrCache()
    with ThreadPoolExecutor(1) as pool:
        for _ in range(2):
            with pytest.raises(UnicodeEncodeError):
                await cache.png("非ASCII", on(pool))
    assert cache.renders == 2 and len(cache) == 0


async def test_worker_pool_renders_a_decodable_png() -> None:
    """Rendered in a worker process, the PNG still decodes to the code."""
    cache = QrCache()
    code = tickets.new_code("sympo")
    with ThreadPoolExecutor(1) as fallback:
        pool = RenderPool(1, fallback)
        pool.start()
        try:
            png = await cache.png(code, pool.render)
            assert worker_pids(pool)
        finally:
            pool.stop()
    assert decoded(png) == code


@pytest.mark.parametrize("fault", [signal.SIGSTOP, signal.SIGKILL])
async def test_a_stuck_or_dead_worker_falls_back_to_a_thread_and_is_replaced(fault: signal.Signals) -> None:
    """A worker that hangs (stopped) or died: the image is rendered in-process and fresh workers take over."""
    code = tickets.new_code("sympo")
    with ThreadPoolExecutor(1) as fallback:
        pool = RenderPool(1, fallback)
        pool.start()
        try:
            assert decoded(await pool.render(tickets.new_code("sympo"))) is not None
            (old,) = worker_pids(pool)
            pool.timeout = 1.0  # the worker is up: from now on a second is far more than a rendering takes
            os.kill(old, fault)
            assert decoded(await pool.render(code)) == code
            assert old not in worker_pids(pool)
            assert decoded(await pool.render(code)) == code
            assert worker_pids(pool)
        finally:
            pool.stop()
    with contextlib.suppress(OSError):
        os.kill(old, signal.SIGKILL)


def worker_pids(pool: RenderPool) -> list[int]:
    assert pool._pool is not None
    return [pid for pid, process in pool._pool._processes.items() if process.is_alive()]


def decoded(png: bytes) -> str:
    (found,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    return str(found.text)

"""The QR image cache: one rendering per code, off the loop, bounded, failures not kept."""

from __future__ import annotations

import asyncio
import io
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest
import zxingcpp
from PIL import Image

from checkin import tickets
from checkin.qrcache import QrCache


async def test_concurrent_requests_share_one_rendering() -> None:
    """Ten simultaneous requests for one code render it once and all get the same bytes."""
    cache = QrCache()
    code = tickets.new_code("sympo")
    with ThreadPoolExecutor(2) as pool:
        images = await asyncio.gather(*(cache.png(code, pool) for _ in range(10)))
        assert await cache.png(code, pool) == images[0]
    assert cache.renders == 1 and len(set(images)) == 1


async def test_the_cache_is_bounded_least_recently_used_first() -> None:
    """Past its size the cache drops the image used longest ago; forget drops one on purpose."""
    cache = QrCache(max_images=2)
    first, second, third = (tickets.new_code("sympo") for _ in range(3))
    with ThreadPoolExecutor(1) as pool:
        await cache.png(first, pool)
        await cache.png(second, pool)
        await cache.png(first, pool)
        await cache.png(third, pool)
        assert len(cache) == 2
        await cache.png(first, pool)
        assert cache.renders == 3
        await cache.png(second, pool)
        assert cache.renders == 4
        cache.forget(second)
        assert len(cache) == 1


async def test_a_failed_rendering_is_not_kept() -> None:
    """A code that cannot be rendered raises for its callers and is tried again next time."""
    cache = QrCache()
    with ThreadPoolExecutor(1) as pool:
        for _ in range(2):
            with pytest.raises(UnicodeEncodeError):
                await cache.png("非ASCII", pool)
    assert cache.renders == 2 and len(cache) == 0


async def test_process_pool_renders_a_decodable_png() -> None:
    """Rendered in a worker process, the PNG still decodes to the code."""
    cache = QrCache()
    code = tickets.new_code("sympo")
    with ProcessPoolExecutor(1) as pool:
        png = await cache.png(code, pool)
    (found,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert found.text == code

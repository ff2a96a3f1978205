"""Live fan-out of attendance changes to dashboards.

Every change to attendance calls `Hub.changed(slug)` after its commit; dashboards subscribe per event.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict


class Hub:
    """In-process hub: knows which events changed and wakes whoever waits on them."""

    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Event]] = defaultdict(set)

    def changed(self, slug: str) -> None:
        """Something that a snapshot shows has changed for this event (call after the commit)."""
        for waiter in self._waiters.get(slug, ()):
            waiter.set()

    def watch(self, slug: str) -> asyncio.Event:
        """An asyncio.Event set on every change of this event; call `unwatch` when done."""
        waiter = asyncio.Event()
        self._waiters[slug].add(waiter)
        return waiter

    def unwatch(self, slug: str, waiter: asyncio.Event) -> None:
        self._waiters[slug].discard(waiter)
        if not self._waiters[slug]:
            del self._waiters[slug]

"""The one way to change what is stored: run a unit of work on the writer, commit, then tell the live hub.

Endpoints, presence, the mailer and the import never hand a write to the database and the hub
separately: the hub hears of a change only after its commit, and only of the events it concerns, so
moving the hub or the database elsewhere (another process, another server) changes this module alone.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import ParamSpec, TypeVar

from checkin.hub import Hub
from checkin.storage import Engine
from checkin.storage.engine import Fn

P = ParamSpec("P")
T = TypeVar("T")


class Writes:
    """Writes to one database, told to one hub (none on the command line, where no dashboard listens)."""

    def __init__(self, db: Engine, hub: Hub | None = None) -> None:
        self.db = db
        self.hub = hub

    async def change(self, events: str | Collection[str], fn: Fn[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run `fn(conn, *args)` as one committed write, then tell the hub that these events (slugs) changed.

        A result whose `recorded` is False (a retried scan, answered from the log) changed nothing a
        snapshot shows, so nobody is told.
        """
        result = await self.db.write(fn, *args, **kwargs)
        # getattr, not a runtime Protocol check: that costs microseconds on every scan of a door rush.
        if self.hub is not None and getattr(result, "recorded", True) is not False:
            for slug in (events,) if isinstance(events, str) else sorted(events):
                self.hub.changed(slug)
        return result

    async def store(self, fn: Fn[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run `fn(conn, *args)` as one committed write that no live view shows (sessions, audit entries)."""
        return await self.db.write(fn, *args, **kwargs)

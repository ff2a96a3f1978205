"""Viewers spread over several client processes (`--processes`), so a large audience does not measure the
rehearsal's own event loop. Each process plays its share with the same clock and keeps its part of the
truth; the parent merges the parts once every share has played its plan, and ends them after the comparison.
Meanwhile each process keeps its viewers' online figures and reconnections in a shared array, so the faults'
checks during the day see the whole audience.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.sharedctypes import SynchronizedArray

import httpx

from checkin.rehearsal.plan import Clock, Person, Plan
from checkin.rehearsal.stage import Stage
from checkin.rehearsal.truth import Registrant, Truth
from checkin.rehearsal.viewers import Viewer, play_viewers

NO_QUIET = (0.0, 0.0, 0.0)
LIVE = 3  # per share: online now, unique, viewer reconnections (what the faults' checks read during the day)


@dataclass(frozen=True)
class Share:
    """What one process needs to play its viewers."""

    servers: list[str]
    slug: str
    clock: Clock
    grace: float
    people: list[tuple[Person, str]]  # each viewer and their ticket code


def split(stage: Stage, viewers: list[Viewer], processes: int) -> tuple[list[Viewer], list[Share]]:
    """The viewers this process plays, and the shares of the others."""
    groups = [viewers[n::processes] for n in range(processes)]
    shares = [
        Share(stage.servers, stage.slug, stage.clock, stage.truth.grace, [(v.person, v.code) for v in group])
        for group in groups[1:]
    ]
    return groups[0], shares


def _child(share: Share, quiet: SynchronizedArray[float], live: SynchronizedArray[float], pipe: Connection) -> None:
    asyncio.run(_play_share(share, quiet, live, pipe))


async def _play_share(
    share: Share, quiet: SynchronizedArray[float], live: SynchronizedArray[float], pipe: Connection
) -> None:
    truth = Truth(grace=share.grace)
    for person, code in share.people:
        truth.registrants[person.key] = Registrant(person.key, person.mode, "registered", code=code)
    plan = Plan([p for p, _ in share.people], [], [], [], 1, 0, None, None)
    async with httpx.AsyncClient() as client:
        stage = Stage(share.servers[0], share.slug, "", [], "", plan, share.clock, truth, client,
                      servers=share.servers)  # fmt: skip
        viewers = [Viewer(stage, person) for person, _ in share.people]

        async def follow_quiet() -> None:
            while True:
                values = tuple(quiet[:])
                stage.quiet = None if values == NO_QUIET else (values[0], values[1], values[2])
                figures = truth.figures(time.time())
                live[:] = [float(str(figures["online_now"])), float(str(figures["unique"])),
                           float(stage.counts.get("viewer_reconnects", 0))]  # fmt: skip
                await asyncio.sleep(0.1)

        follower = asyncio.create_task(follow_quiet())
        await play_viewers(stage, viewers)
        pipe.send((truth.watching, stage.counts, stage.problems))
        await asyncio.to_thread(pipe.recv)  # the parent has compared: the viewers still watching leave
        follower.cancel()
        await asyncio.gather(*(v.close() for v in viewers))


class Crowd:
    """The other client processes of a rehearsal."""

    def __init__(self, stage: Stage, shares: list[Share]) -> None:
        context = multiprocessing.get_context("spawn")  # never fork a process with a running event loop
        self.stage = stage
        self.quiet = context.Array("d", 3)
        self.live = [context.Array("d", LIVE) for _ in shares]
        self.pipes: list[Connection] = []
        self.processes = []
        for share, live in zip(shares, self.live, strict=True):
            mine, theirs = context.Pipe()
            process = context.Process(target=_child, args=(share, self.quiet, live, theirs), daemon=True)
            process.start()
            self.pipes.append(mine)
            self.processes.append(process)
        self.merged = False
        self.mirror = asyncio.create_task(self._mirror())

    async def _mirror(self) -> None:
        """The kill fault's quiet window, passed on to the other processes."""
        while True:
            self.quiet[:] = list(self.stage.quiet or NO_QUIET)
            await asyncio.sleep(0.05)

    def online(self) -> tuple[int, int, int]:
        """The other processes' viewers now: watching, unique, and their reconnections so far."""
        if self.merged:  # their truth and counts are ours now
            return 0, 0, 0
        totals = [sum(int(live[n]) for live in self.live) for n in range(LIVE)]
        return totals[0], totals[1], totals[2]

    async def played(self) -> None:
        """Wait for every share to play its plan, and merge their truth into ours (all at once)."""
        parts = []
        for number, pipe in enumerate(self.pipes):
            try:
                parts.append(await asyncio.to_thread(pipe.recv))
            except EOFError:
                self.stage.problem(f"viewer process {number + 2} ended before its viewers had played")
        for watching, counts, problems in parts:
            self.stage.truth.watching.update(watching)
            for name, count in counts.items():
                self.stage.bump(name, count)
            self.stage.problems.extend(problems)
        self.merged = True

    async def close(self) -> None:
        self.mirror.cancel()
        for pipe in self.pipes:
            with contextlib.suppress(OSError):
                pipe.send("stop")
        deadline = time.monotonic() + 30
        for process in self.processes:
            await asyncio.to_thread(process.join, max(0.1, deadline - time.monotonic()))
            if process.is_alive():
                process.terminate()

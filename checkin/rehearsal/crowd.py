"""Viewers spread over several client processes (`--processes`), so a large audience does not measure the
rehearsal's own event loop. Each process plays its share with the same clock and keeps its part of the
truth; the parent merges the parts once every share has played its plan, and ends them after the comparison.
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


@dataclass(frozen=True)
class Share:
    """What one process needs to play its viewers."""

    url: str
    slug: str
    clock: Clock
    grace: float
    people: list[tuple[Person, str]]  # each viewer and their ticket code


def split(stage: Stage, viewers: list[Viewer], processes: int) -> tuple[list[Viewer], list[Share]]:
    """The viewers this process plays, and the shares of the others."""
    groups = [viewers[n::processes] for n in range(processes)]
    shares = [
        Share(stage.url, stage.slug, stage.clock, stage.truth.grace, [(v.person, v.code) for v in group])
        for group in groups[1:]
    ]
    return groups[0], shares


def _child(share: Share, quiet: SynchronizedArray[float], pipe: Connection) -> None:
    asyncio.run(_play_share(share, quiet, pipe))


async def _play_share(share: Share, quiet: SynchronizedArray[float], pipe: Connection) -> None:
    truth = Truth(grace=share.grace)
    for person, code in share.people:
        truth.registrants[person.key] = Registrant(person.key, person.mode, "registered", code=code)
    plan = Plan([p for p, _ in share.people], [], [], [], 1, 0, None, None)
    async with httpx.AsyncClient() as client:
        stage = Stage(share.url, share.slug, "", [], "", plan, share.clock, truth, client)
        viewers = [Viewer(stage, person) for person, _ in share.people]

        async def follow_quiet() -> None:
            while True:
                values = tuple(quiet[:])
                stage.quiet = None if values == NO_QUIET else (values[0], values[1], values[2])
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
        self.pipes: list[Connection] = []
        self.processes = []
        for share in shares:
            mine, theirs = context.Pipe()
            process = context.Process(target=_child, args=(share, self.quiet, theirs), daemon=True)
            process.start()
            self.pipes.append(mine)
            self.processes.append(process)
        self.mirror = asyncio.create_task(self._mirror())

    async def _mirror(self) -> None:
        """The kill fault's quiet window, passed on to the other processes."""
        while True:
            self.quiet[:] = list(self.stage.quiet or NO_QUIET)
            await asyncio.sleep(0.05)

    async def played(self) -> None:
        """Wait for every share to play its plan, and merge their truth into ours."""
        for number, pipe in enumerate(self.pipes):
            try:
                watching, counts, problems = await asyncio.to_thread(pipe.recv)
            except EOFError:
                self.stage.problem(f"viewer process {number + 2} ended before its viewers had played")
                continue
            self.stage.truth.watching.update(watching)
            for name, count in counts.items():
                self.stage.bump(name, count)
            self.stage.problems.extend(problems)

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

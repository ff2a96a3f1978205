"""Online viewers: each a registrant on their personal watch link, over the watch websocket only.

They join, pause, open a second tab, reload, leave, or stay to the end. Every change of whether a person
is watching happens on a grid of real time, starts on the half second and ends a quarter later, so no
start and end of two viewers are close enough for the order the server sees to differ from ours. With several
servers, a viewer's tabs open on the server the balancer gives its number, and reconnect elsewhere while
that one is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import time

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake, InvalidMessage, WebSocketException

from checkin.rehearsal.plan import Person
from checkin.rehearsal.stage import Stage, ws

GRID = 0.5
MARGIN = 2.0  # a pause this close to the grace period is stretched past it: either side is then unambiguous


class Tab:
    """One open page: a socket that reconnects by itself and says whether its viewer is watching."""

    def __init__(self, viewer: Viewer) -> None:
        self.viewer = viewer
        self.socket: ClientConnection | None = None
        self.closed = False
        self.ready = asyncio.Event()
        self.task = asyncio.create_task(self.run())

    async def run(self) -> None:
        stage = self.viewer.stage
        path = f"/ws/events/{stage.slug}/watch?ticket={self.viewer.code}"
        while not self.closed:
            number, base = stage.base(self.viewer.person.key)
            url = ws(base) + path
            try:
                async with connect(url, ping_interval=None, open_timeout=15, max_queue=4) as socket:
                    hello = json.loads(await socket.recv())
                    if hello.get("type") != "hello":
                        stage.problem(f"watch socket refused: {hello}")
                        return
                    self.socket = socket
                    await self.say(self.viewer.watching)
                    self.ready.set()
                    async for _ in socket:
                        pass
            except (OSError, TimeoutError, InvalidMessage):
                stage.balancer.failed(number)  # no answer at all: the server is down
            except (InvalidHandshake, WebSocketException):
                pass
            self.socket = None
            self.ready.clear()
            if not self.closed:
                stage.bump("viewer_reconnects")
                await asyncio.sleep(random.uniform(0.2, 1.0))

    async def say(self, watching: bool) -> None:
        if self.socket is not None:
            with contextlib.suppress(WebSocketException):
                await self.socket.send(json.dumps({"type": "state", "watching": watching}))

    async def close(self) -> None:
        self.closed = True
        if self.socket is not None:
            await self.socket.close()
        self.task.cancel()


class Viewer:
    """One person watching online."""

    def __init__(self, stage: Stage, person: Person) -> None:
        self.stage, self.person = stage, person
        self.code = stage.truth.registrants[person.key].code or ""
        self.watching = False
        self.tabs: list[Tab] = []
        self.paused_at = 0.0

    def schedule(self) -> list[tuple[float, str]]:
        p = self.person
        ops: list[tuple[float, str]] = []
        for number, (start, stop) in enumerate(p.viewing):
            ops.append((start, "open" if number == 0 else "resume"))
            last = number == len(p.viewing) - 1
            if not (last and p.stays):
                ops.append((stop, "leave" if last else "pause"))
        if p.second_tab:
            ops += [(p.second_tab[0], "tab"), (p.second_tab[1], "untab")]
        if p.reload_at is not None:
            ops.append((p.reload_at, "reload"))
        return sorted(ops)

    async def slot(self, offset: float) -> None:
        """Wait for the next point of the grid (starts at 0, ends at a quarter of it)."""
        origin = self.stage.clock.origin
        now = time.time()
        target = origin + math.ceil((now - origin - offset) / GRID) * GRID + offset
        await asyncio.sleep(max(0.0, target - now))

    async def hold_still(self, starting: bool) -> None:
        """Nothing changes while the server is being killed and restarted."""
        while (quiet := self.stage.quiet) and quiet[0 if starting else 1] <= time.time() < quiet[2]:  # noqa: ASYNC110
            await asyncio.sleep(0.2)

    async def turn(self, watching: bool) -> None:
        await self.slot(0.0 if watching else GRID / 2)
        self.watching = watching
        at = time.time()
        if watching:
            self.stage.truth.start_watching(self.person.key, at)
        else:
            self.stage.truth.stop_watching(self.person.key, at)
        await asyncio.gather(*(tab.say(watching) for tab in self.tabs))

    async def open_tab(self) -> Tab:
        tab = Tab(self)
        self.tabs.append(tab)
        try:
            await asyncio.wait_for(tab.ready.wait(), 30)
        except TimeoutError:
            self.stage.problem(f"viewer {self.person.key}: the watch socket did not open")
        return tab

    async def play(self) -> None:
        for at, op in self.schedule():
            await self.stage.until(at)
            await self.hold_still(op in {"open", "resume"})
            if op == "open":
                await self.open_tab()
                await self.turn(True)
                self.stage.bump("viewers_joined")
            elif op == "pause":
                await self.turn(False)
                self.paused_at = time.time()
            elif op == "resume":
                gap = time.time() - self.paused_at
                grace = self.stage.truth.grace
                if grace - MARGIN <= gap < grace + MARGIN:
                    await asyncio.sleep(self.paused_at + grace + MARGIN - time.time())
                await self.hold_still(True)
                await self.turn(True)
            elif op == "tab":
                await self.open_tab()
                self.stage.bump("second_tabs")
            elif op in {"untab", "reload"} and len(self.tabs) > (1 if op == "untab" else 0):
                await self.tabs.pop().close()
                if op == "reload":
                    await asyncio.sleep(0.5)
                    await self.open_tab()
                    self.stage.bump("reloads")
            elif op == "leave":
                await self.slot(GRID / 2)
                self.watching = False
                self.stage.truth.stop_watching(self.person.key, time.time())
                await asyncio.gather(*(tab.close() for tab in self.tabs))
                self.tabs = []
                self.stage.bump("viewers_left")

    async def close(self) -> None:
        await asyncio.gather(*(tab.close() for tab in self.tabs))


async def play_viewers(stage: Stage, viewers: list[Viewer]) -> None:
    """Every viewer's plan, at once."""
    await asyncio.gather(*(v.play() for v in viewers))


def viewers_of(stage: Stage) -> list[Viewer]:
    return [Viewer(stage, p) for p in stage.plan.people if p.viewing]

"""Whether the servers' figures are exact again after a fault, checked during the day.

Every half second, each running server's `/stats` is read and compared with our truth at that moment. A
check counts only when nothing was moving: no kiosk request in flight, no queued offline scan, and our
figures the same before and after the reads (viewers hold still around a fault, the door does not). The
first exact check after a fault gives "exact after"; and once the cluster has settled (Redis counts only
the running servers, a heartbeat later), one more exact check is required, or the rehearsal fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import httpx

from checkin.rehearsal.observe import snapshot_figures
from checkin.rehearsal.stage import Stage

SAMPLED = ("registered", "checked_in", "in_hall", "online_now", "unique", "attended")
EVERY = 0.5


def expected_now(stage: Stage) -> dict[str, object] | None:
    """Our figures now, the other viewer processes' included; None while a kiosk's request is on its way."""
    if stage.inflight or stage.counts.get("queued_offline", 0) != stage.counts.get("offline_uploaded", 0):
        return None
    figures = stage.truth.figures(time.time())
    online, unique, _ = stage.elsewhere()
    out = {name: figures[name] for name in SAMPLED}
    # the other processes' viewers are online registrants and venue no-shows: none of them checked in
    out["online_now"] = int(str(out["online_now"])) + online
    out["unique"] = int(str(out["unique"])) + unique
    out["attended"] = int(str(out["attended"])) + unique
    return out


async def check(stage: Stage, servers: list[str]) -> tuple[bool | None, str]:
    """Every given server's figures against ours: True, False (and how), or None when no verdict was possible."""
    before = expected_now(stage)
    if before is None:
        return None, ""
    auth = stage.auth(stage.organiser)
    try:
        answers = await asyncio.gather(
            *(stage.client.get(f"{url}/api/v1/events/{stage.slug}/stats", headers=auth, timeout=5) for url in servers)
        )
    except httpx.HTTPError:
        return None, ""
    if expected_now(stage) != before or any(a.status_code != 200 for a in answers):
        return None, ""
    wrong = []
    for url, answer in zip(servers, answers, strict=True):
        seen = snapshot_figures(answer.json())
        wrong += [f"{url} {k} {seen[k]} (expected {before[k]})" for k in SAMPLED if seen[k] != before[k]]
    return not wrong, "; ".join(wrong)


class Recovery:
    """Checks the running servers every half second from a fault on, until told to stop."""

    def __init__(self, stage: Stage, running: list[str], since: float) -> None:
        self.stage, self.running, self.since = stage, running, since
        self.first: float | None = None  # seconds from the fault to the first exact check
        self.last_exact = 0.0  # when the newest exact check began
        self.last_wrong = ""
        self.wrong = 0  # checks that found a figure differing
        self.task = asyncio.create_task(self.run())

    async def run(self) -> None:
        while True:
            began = time.time()
            verdict, wrong = await check(self.stage, self.running)
            if verdict:
                self.last_exact = began
                if self.first is None:
                    self.first = round(began - self.since, 1)
            elif verdict is False:
                self.last_wrong = wrong
                self.wrong += 1
            await asyncio.sleep(EVERY)

    async def exact_after(self, at: float, wait: float) -> bool:
        """Whether a check that began after `at` found every figure exact, waiting up to `wait` for one."""
        deadline = time.time() + wait
        while self.last_exact < at and time.time() < deadline:  # noqa: ASYNC110 - the checks run on their own
            await asyncio.sleep(0.1)
        return self.last_exact >= at

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task

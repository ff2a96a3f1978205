"""What every player shares: the target, its credentials, the clock, our truth and the measurements; and, with
several servers, the load balancer in front of them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from checkin.rehearsal.plan import Clock, Plan
from checkin.rehearsal.truth import Truth

RETRY_FOR = 60.0  # a kiosk keeps retrying one scan this long (a restart takes a few seconds)
DOWN_FOR = 5.0  # a server that refused a connection gets none for this long (a proxy's fail timeout)


class Balancer:
    """What a load balancer in front of several servers does: each player has a home server (its number modulo
    the servers, so kiosks, viewers and dashboards are spread evenly); a server that failed a connection is
    passed over for DOWN_FOR seconds, and its players go to the next one meanwhile."""

    def __init__(self, urls: list[str]) -> None:
        self.urls = urls
        self.down_until = [0.0] * len(urls)

    def pick(self, home: int) -> int:
        """The server for a player whose home is `home`: the first, from there on, not marked down."""
        now = time.monotonic()
        count = len(self.urls)
        for step in range(count):
            number = (home + step) % count
            if self.down_until[number] <= now:
                return number
        return home % count  # all marked down: try home anyway

    def failed(self, number: int) -> None:
        self.down_until[number] = time.monotonic() + DOWN_FOR


@dataclass
class Stage:
    """The rehearsal in progress."""

    url: str
    slug: str
    organiser: str
    kiosk_tokens: list[str]
    dashboard_token: str
    plan: Plan
    clock: Clock
    truth: Truth
    client: httpx.AsyncClient
    foreign_code: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # unexpected answers, 5xx, lost connections
    scan_ms: list[float] = field(default_factory=list)
    scan_answers: list[tuple[float, float, int]] = field(default_factory=list)  # (sent, answered, checked_in)
    snapshots: list[tuple[float, int]] = field(default_factory=list)  # (received, checked_in)
    last_snapshot: dict[str, Any] | None = None
    last_snapshots: dict[int, dict[str, Any]] = field(default_factory=dict)  # dashboard n < servers: its newest
    # Viewers hold still while the server is being killed: (no new viewing from, no other change from, until).
    quiet: tuple[float, float, float] | None = None
    phase: str = ""
    servers: list[str] = field(default_factory=list)  # every server's URL (the first is `url`)
    inflight: int = 0  # kiosk requests sent and not yet answered (the figures may be moving)
    # the other viewer processes' (online now, unique, reconnections) while they play (crowd.py)
    elsewhere: Callable[[], tuple[int, int, int]] = lambda: (0, 0, 0)
    fault_log: list[dict[str, Any]] = field(default_factory=list)  # each fault played and what it cost

    def __post_init__(self) -> None:
        self.servers = self.servers or [self.url]
        self.balancer = Balancer(self.servers)

    @property
    def ws_url(self) -> str:
        return ws(self.url)

    def base(self, home: int) -> tuple[int, str]:
        """The server (its number and URL) the balancer gives a player whose home is `home`."""
        number = self.balancer.pick(home)
        return number, self.servers[number]

    def bump(self, name: str, by: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + by

    def problem(self, text: str) -> None:
        self.problems.append(text)

    def auth(self, token: str) -> dict[str, str]:
        return {"authorization": f"Bearer {token}"}

    def api(self, path: str, home: int = 0) -> str:
        """An event's API address on the server the balancer gives `home`."""
        return f"{self.base(home)[1]}/api/v1/events/{self.slug}{path}"

    async def until(self, plan_t: float) -> None:
        """Sleep until the plan's time comes (at once when late)."""
        await asyncio.sleep(max(0.0, self.clock.real(plan_t) - time.time()))

    async def post_retrying(self, path: str, body: dict[str, Any], token: str, home: int) -> httpx.Response | None:
        """POST to the event's API, and on a lost connection or a 5xx again (same scan_id) until it is answered.

        A retry says when the scan really happened (`scanned_at`), as the kiosk page's queue does, so a scan
        first sent before a crash keeps its time.
        """
        return await self.retrying("POST", path, token, body, home=home)

    async def retrying(
        self, method: str, path: str, token: str, body: dict[str, Any] | None = None, home: int = 0
    ) -> httpx.Response | None:
        """A request to the event's API sent again on a lost connection or a 5xx until it is answered (None after
        RETRY_FOR); each try goes where the balancer says (another server while `home`'s is down)."""
        self.inflight += 1
        try:
            return await self._retrying(method, path, token, body, home)
        finally:
            self.inflight -= 1

    async def _retrying(
        self, method: str, path: str, token: str, body: dict[str, Any] | None, home: int
    ) -> httpx.Response | None:
        deadline = time.monotonic() + RETRY_FOR
        at = time.time()
        tries = 0
        while True:
            number, base = self.base(home)
            try:
                url = f"{base}/api/v1/events/{self.slug}{path}"
                answer = await self.client.request(method, url, json=body, headers=self.auth(token))
                if answer.status_code < 500:
                    answer.extensions["tries"] = tries + 1
                    return answer
                self.problem(f"{answer.status_code} from {method} {path}")
            except httpx.HTTPError:
                self.balancer.failed(number)
            if time.monotonic() > deadline:
                return None
            tries += 1
            if tries == 1:
                self.bump("retried")
                if body is not None:
                    body = {"scanned_at": iso(at), **body}
            await asyncio.sleep(0.25)


def ws(url: str) -> str:
    return url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds")

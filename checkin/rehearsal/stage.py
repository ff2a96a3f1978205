"""What every player shares: the target, its credentials, the clock, our truth and the measurements."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from checkin.rehearsal.plan import Clock, Plan
from checkin.rehearsal.truth import Truth

RETRY_FOR = 60.0  # a kiosk keeps retrying one scan this long (a restart takes a few seconds)


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
    # Viewers hold still while the server is being killed: (no new viewing from, no other change from, until).
    quiet: tuple[float, float, float] | None = None
    phase: str = ""

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)

    def bump(self, name: str, by: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + by

    def problem(self, text: str) -> None:
        self.problems.append(text)

    def auth(self, token: str) -> dict[str, str]:
        return {"authorization": f"Bearer {token}"}

    def api(self, path: str) -> str:
        return f"{self.url}/api/v1/events/{self.slug}{path}"

    async def until(self, plan_t: float) -> None:
        """Sleep until the plan's time comes (at once when late)."""
        await asyncio.sleep(max(0.0, self.clock.real(plan_t) - time.time()))

    async def post_retrying(self, url: str, body: dict[str, Any], token: str) -> httpx.Response | None:
        """POST, and on a lost connection or a 5xx again (same scan_id) until it is answered.

        A retry says when the scan really happened (`scanned_at`), as the kiosk page's queue does, so a scan
        first sent before a crash keeps its time.
        """
        return await self.retrying("POST", url, token, body)

    async def retrying(
        self, method: str, url: str, token: str, body: dict[str, Any] | None = None
    ) -> httpx.Response | None:
        """A request sent again on a lost connection or a 5xx until it is answered (None after RETRY_FOR)."""
        deadline = time.monotonic() + RETRY_FOR
        at = time.time()
        tries = 0
        while True:
            try:
                answer = await self.client.request(method, url, json=body, headers=self.auth(token))
                if answer.status_code < 500:
                    answer.extensions["tries"] = tries + 1
                    return answer
                self.problem(f"{answer.status_code} from {method} {url.removeprefix(self.url)}")
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                return None
            tries += 1
            if tries == 1:
                self.bump("retried")
                if body is not None:
                    body = {"scanned_at": iso(at), **body}
            await asyncio.sleep(0.25)


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds")

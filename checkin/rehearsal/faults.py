"""Faults, each an option (`--faults kill,offline,slow,junk` or `all`): the server killed -9 in the middle of
the rush and started again, a kiosk offline for a while (played by the kiosk itself), a dashboard that
never reads, and a burst of junk at every endpoint. Only what the rehearsal started is ever killed."""

from __future__ import annotations

import asyncio
import time

import httpx

from checkin.rehearsal.server import OwnServer
from checkin.rehearsal.stage import Stage

FAULTS = ("kill", "offline", "slow", "junk")
# Viewers start no viewing from this long before the kill (a start is written within a second) and change
# nothing else from the grace and this long before it (an end is written when the grace has run out) ...
QUIET_STARTS = 3.0
QUIET_BEFORE = 6.0
# ... until this long after the restart (every viewer back on its socket).
QUIET_AFTER = 4.0


def parse_faults(text: str) -> set[str]:
    """`all`, or a comma-separated list of FAULTS; ValueError for anything else."""
    chosen = {f.strip() for f in text.split(",") if f.strip()}
    if "all" in chosen:
        return set(FAULTS)
    unknown = chosen - set(FAULTS)
    if unknown:
        raise ValueError(f"unknown fault(s): {', '.join(sorted(unknown))} (choose from {', '.join(FAULTS)}, all)")
    return chosen


async def kill_and_restart(stage: Stage, server: OwnServer) -> None:
    """kill -9 the server at the planned moment of the rush, then start it again on the same port."""
    assert stage.plan.kill_at is not None
    kill_real = stage.clock.real(stage.plan.kill_at)
    stage.quiet = (kill_real - QUIET_STARTS, kill_real - stage.truth.grace - QUIET_BEFORE, float("inf"))
    await stage.until(stage.plan.kill_at)
    server.kill9()
    stage.bump("killed")
    took = await asyncio.to_thread(server.restart)
    stage.counts["restart_ms"] = round(took * 1000)
    stage.quiet = (*stage.quiet[:2], time.time() + QUIET_AFTER)


JUNK: list[tuple[str, str, bytes, dict[str, str]]] = [
    ("POST", "/scans", b"{", {}),
    ("POST", "/scans", b'{"code": 1, "scan_id": []}', {}),
    ("POST", "/scans", b"[" * 5000 + b"]" * 5000, {}),
    ("POST", "/scans", b'{"code": "\\u0000", "scan_id": "x"}', {}),
    ("POST", "/walkins", b'{"name": "", "scan_id": "junk"}', {}),
    ("POST", "/registrations", b'{"name": "x", "email": "not an address", "mode": "both"}', {}),
    ("POST", "/registrations", b"\xff\xfe\x00", {"content-type": "application/json"}),
    ("GET", "/registrants?q=%00%01", b"", {}),
    ("GET", "/kiosk/sync?since=-1", b"", {}),
    ("GET", "/kiosk/sync?since=99999999999999999999999", b"", {}),
    ("POST", "/kiosk/heartbeat", b'{"queue_length": -5}', {}),
    ("DELETE", "/checkins/999999999", b"", {}),
    ("GET", "/stats?x=" + "a" * 3000, b"", {}),
    ("POST", "/resend", b'{"email": 5}', {}),
]


async def junk_burst(stage: Stage, at: float, rounds: int = 5) -> None:
    """Malformed requests at every endpoint, as a kiosk's token and as nobody: each must be a 4xx, never a 5xx."""
    await stage.until(at)
    token = stage.kiosk_tokens[-1]
    for _ in range(rounds):
        for method, path, body, headers in JUNK:
            for auth in ({}, stage.auth(token)):
                try:
                    answer = await stage.client.request(
                        method, stage.api(path), content=body, headers={**headers, **auth}
                    )
                except httpx.HTTPError as exc:
                    stage.problem(f"junk {method} {path[:40]}: {type(exc).__name__}")
                    continue
                stage.bump("junk_requests")
                if answer.status_code >= 500:
                    stage.problem(f"junk {method} {path[:40]}: {answer.status_code}")
        for path in ("/ws/events/x/watch?ticket=junk", f"/ws/events/{stage.slug}/dashboard?token=junk"):
            try:
                answer = await stage.client.get(stage.url + path)
                if answer.status_code >= 500:
                    stage.problem(f"junk GET {path}: {answer.status_code}")
            except httpx.HTTPError:
                pass

"""Faults, each an option (`--faults kill,offline,slow,junk,redis` or `all`): a server killed -9 in the middle
of the rush and started again (with several servers, one of them, while the others carry on), a kiosk offline
for a while (played by the kiosk itself), a dashboard that never reads, a burst of junk at every endpoint, and
the rehearsal's own Redis stopped and started. Only what the rehearsal started is ever killed or stopped.

After the kill and the Redis restart the figures must be exact again within BOUND seconds (recovery.py), and
each fault is written down with what it cost: retried requests, reconnections, seconds until exact."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from checkin.rehearsal.cluster import Cluster
from checkin.rehearsal.plan import MINUTE
from checkin.rehearsal.recovery import Recovery
from checkin.rehearsal.stage import Stage

FAULTS = ("kill", "offline", "slow", "junk", "redis")
# Viewers start no viewing from this long before the kill (a start is written within a second) and change
# nothing else from the grace and this long before it (an end is written when the grace has run out) ...
QUIET_STARTS = 3.0
QUIET_BEFORE = 6.0
# ... until this long after the restart (every viewer back on its socket) ...
QUIET_AFTER = 4.0
# ... or, with Redis, until Redis counts only the running servers as alive and another heartbeat has passed
# (a dead server's liveness key expires 15 s after its last beat; its viewings are handed over at the next
# beat of another server: docs/DEPLOY.md). The figures must be exact again within BOUND of the fault.
BEAT = 5.0
BOUND = 30.0
VERDICT = 10.0  # a check of the figures may wait this long for a moment when no scan is in flight
REDIS_DOWN = 3.0  # seconds the own Redis stays stopped


def parse_faults(text: str) -> set[str]:
    """`all`, or a comma-separated list of FAULTS; ValueError for anything else."""
    chosen = {f.strip() for f in text.split(",") if f.strip()}
    if "all" in chosen:
        return set(FAULTS)
    unknown = chosen - set(FAULTS)
    if unknown:
        raise ValueError(f"unknown fault(s): {', '.join(sorted(unknown))} (choose from {', '.join(FAULTS)}, all)")
    return chosen


async def play_faults(stage: Stage, cluster: Cluster) -> None:
    """The kill, then the Redis restart (postponed until the viewers have moved freely again after the kill)."""
    released = None
    if stage.plan.kill_at is not None:
        released = await kill_and_restart(stage, cluster)
    if stage.plan.redis_at is not None and cluster.own_redis is not None:
        await restart_redis(stage, cluster, released)


def costs(stage: Stage) -> dict[str, int]:
    return {
        "retried": stage.counts.get("retried", 0),
        "viewer_reconnects": stage.counts.get("viewer_reconnects", 0) + stage.elsewhere()[2],
        "dashboard_reconnects": stage.counts.get("dashboard_reconnects", 0),
    }


def hold_viewers(stage: Stage, at: float) -> None:
    """Viewers hold still around a fault at `at` (real time) until `release`."""
    stage.quiet = (at - QUIET_STARTS, at - stage.truth.grace - QUIET_BEFORE, float("inf"))


def release(stage: Stage, at: float) -> None:
    assert stage.quiet is not None
    stage.quiet = (*stage.quiet[:2], at)


async def settled(stage: Stage, cluster: Cluster, since: float) -> float | None:
    """Seconds from `since` until Redis counts exactly the running servers as alive (None: not within BOUND)."""
    while time.time() < since + BOUND:
        if await cluster.alive() == cluster.running():
            return round(time.time() - since, 1)
        await asyncio.sleep(0.25)
    return None


async def recovered(stage: Stage, cluster: Cluster, name: str, since: float, watch: Recovery) -> float | None:
    """Wait until the cluster has settled after a fault at `since`; record a problem if the figures are not exact
    then. Seconds until settled (None without Redis)."""
    took = None
    if cluster.redis_url is not None:
        took = await settled(stage, cluster, since)
        if took is None:
            stage.problem(f"{name}: Redis still counted {await cluster.alive()} servers alive {BOUND:.0f} s later "
                          f"({cluster.running()} running)")  # fmt: skip
        else:
            await asyncio.sleep(BEAT)
    at = time.time()
    if not await watch.exact_after(at, VERDICT):
        why = watch.last_wrong or "no moment without a scan in flight to check them"
        stage.problem(f"{name}: the figures were not exact again {at - since:.0f} s after it: {why}")
    return took


def record(stage: Stage, fault: str, at_real: float, before: dict[str, int], **details: Any) -> None:
    """Write down a fault played and what it cost."""
    after = costs(stage)
    plan_at = 13 * 60 + 30 + stage.clock.plan(at_real) / MINUTE
    entry = {"fault": fault, "at": f"{int(plan_at) // 60:02d}:{int(plan_at) % 60:02d}", **details}
    entry |= {name: after[name] - before[name] for name in before}
    stage.fault_log.append(entry)


async def kill_and_restart(stage: Stage, cluster: Cluster) -> float:
    """kill -9 a server at the planned moment of the rush. One server: started again at once on the same port.
    Several: the others carry on (its kiosks, viewers and dashboards move to them) until the figures are exact
    again, then it is started again. When the viewers were let go."""
    assert stage.plan.kill_at is not None
    several = len(cluster.servers) > 1
    victim = cluster.servers[1 if several else 0]
    kill_real = stage.clock.real(stage.plan.kill_at)
    hold_viewers(stage, kill_real)
    await stage.until(stage.plan.kill_at)
    before = costs(stage)
    victim.kill9()
    killed = time.time()
    stage.bump("killed")
    restart_ms = None
    if not several:
        restart_ms = round(await asyncio.to_thread(victim.restart) * 1000)
    watch = Recovery(stage, [s.url for s in cluster.servers if s.running], killed)
    try:
        took = await recovered(stage, cluster, f"kill of server {victim.number}", killed, watch)
    finally:
        await watch.stop()
    if several:
        restart_ms = round(await asyncio.to_thread(victim.restart) * 1000)
    stage.counts["restart_ms"] = restart_ms or 0
    let_go = time.time() + (QUIET_AFTER if cluster.redis_url is None else 1.0)
    release(stage, let_go)
    record(stage, "kill", killed, before, server=victim.number, exact_s=watch.first, inexact_checks=watch.wrong,
           settled_s=took, restart_ms=restart_ms)  # fmt: skip
    return let_go


async def restart_redis(stage: Stage, cluster: Cluster, released: float | None) -> None:
    """Stop the rehearsal's own Redis for REDIS_DOWN seconds and start it again, empty: every server must put
    back what it holds (its liveness, its viewers) and the figures be exact again."""
    assert stage.plan.redis_at is not None and cluster.own_redis is not None
    at = stage.clock.real(stage.plan.redis_at)
    if released is not None:  # the viewers moved freely after the kill: a clean window before this one
        at = max(at, released + stage.truth.grace + QUIET_BEFORE + 1.0)
    hold_viewers(stage, at)
    await asyncio.sleep(max(0.0, at - time.time()))
    before = costs(stage)
    await asyncio.to_thread(cluster.own_redis.stop)
    stopped = time.time()
    stage.bump("redis_restarts")
    watch = Recovery(stage, cluster.urls, stopped)
    try:
        await asyncio.sleep(REDIS_DOWN)
        await asyncio.to_thread(cluster.own_redis.start)
        back = time.time()
        took = await recovered(stage, cluster, "Redis restart", stopped, watch)
    finally:
        await watch.stop()
    release(stage, time.time() + 1.0)
    record(stage, "redis", stopped, before, down_s=round(back - stopped, 1), exact_s=watch.first,
           inexact_checks=watch.wrong, settled_s=took)  # fmt: skip


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

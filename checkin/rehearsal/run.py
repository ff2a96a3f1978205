"""`checkin rehearse`: the options, the target (its own server, or `--url`), and the day played in order."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

from checkin.rehearsal import faults as fault_players
from checkin.rehearsal.cluster import Cluster, database_refusal, refusal
from checkin.rehearsal.compare import compare_figures, compare_people, exit_status
from checkin.rehearsal.crowd import Crowd, split
from checkin.rehearsal.dashboards import open_dashboards, scan_to_dashboard_ms, settled_snapshot, slow_dashboard
from checkin.rehearsal.kiosks import play_door
from checkin.rehearsal.observe import observe
from checkin.rehearsal.plan import DAY_END, DAY_START, MINUTE, Clock, Plan, make_plan
from checkin.rehearsal.registrants import register_all
from checkin.rehearsal.stage import Stage
from checkin.rehearsal.summary import latency, render, write_json
from checkin.rehearsal.truth import Truth
from checkin.rehearsal.viewers import play_viewers, viewers_of


@dataclass(frozen=True)
class Options:
    registrants: int
    viewers: int
    kiosks: int
    dashboards: int
    speed: float
    faults: set[str]
    url: str | None
    token: str | None
    event: str | None
    lang: str
    json_file: Path | None
    seed: int
    processes: int = 1
    db: str | None = None  # a new, empty PostgreSQL database (default: a temporary SQLite file)
    redis: str | None = None  # a Redis to share (default, when one is needed: a redis-server of our own)
    servers: int = 1


@dataclass
class Target:
    url: str
    slug: str
    organiser: str
    kiosk_tokens: list[str]
    dashboard_token: str
    capacity: int | None
    cluster: Cluster | None = None
    foreign_code: str | None = None
    servers: list[str] | None = None


def progress(stage: Stage, line: str) -> None:
    stage.phase = line
    print(line, file=sys.stderr, flush=True)


async def ticker(stage: Stage) -> None:
    """A live line: the plan's clock and the counts so far."""
    tty = sys.stderr.isatty()
    while True:
        await asyncio.sleep(1.0 if tty else 10.0)
        clock = 13 * 60 + 30 + stage.clock.plan(time.time()) / MINUTE
        watching = sum(1 for periods in stage.truth.watching.values() if periods and periods[-1][1] is None)
        line = (f"  {int(clock) // 60:02d}:{int(clock) % 60:02d}  checked in {len(stage.truth.first_in)}"
                f"  in hall {sum(stage.truth.inside.values())}  watching {watching}"
                f"  scans {stage.counts.get('scans', 0)}  retried {stage.counts.get('retried', 0)}"
                f"  queued {stage.counts.get('queued_offline', 0)}  problems {len(stage.problems)}")  # fmt: skip
        print(("\r" + line) if tty else line, end="" if tty else "\n", file=sys.stderr, flush=True)


@contextlib.asynccontextmanager
async def own_target(opts: Options, plan: Plan, workdir: Path) -> AsyncIterator[Target]:
    """Servers of our own, and the event and tokens made with the `checkin` commands, as an organiser would."""
    own_redis = not opts.redis and (opts.servers > 1 or "redis" in opts.faults)
    cluster = Cluster.make(workdir, opts.servers, opts.db, opts.redis, own_redis)
    server = cluster.first
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    slug = f"rehearsal-{stamp}"
    # The event starts once the registrations are in and the doors have been open 45 (plan) minutes.
    starts = datetime.now(UTC) + timedelta(seconds=10 + len(plan.people) * 0.03 - DAY_START / opts.speed)
    for name, capacity in ((slug, plan.capacity), (slug + "-other", 10)):
        server.cli("event", "create", name, "--title", "リハーサル", "--starts", starts.isoformat(timespec="seconds"),
                   "--ends", (starts + timedelta(hours=3)).isoformat(timespec="seconds"),
                   "--capacity", str(capacity), "--venue", "リハーサル会場")  # fmt: skip
    organiser = server.token(slug, "organiser", "リハーサル")
    kiosks = [server.token(slug, "kiosk", f"受付{n + 1}") for n in range(opts.kiosks)]
    dashboard = server.token(slug, "dashboard", "リハーサル")
    try:
        cluster.start()
        target = Target(server.url, slug, organiser, kiosks, dashboard, plan.capacity, cluster, servers=cluster.urls)
        async with httpx.AsyncClient() as client:
            other = {"name": "他イベント 参加者", "kana": "タ", "email": "other@example.com", "mode": "venue"}
            answer = await client.post(f"{server.url}/api/v1/events/{slug}-other/registrations", json=other)
            target.foreign_code = answer.json()["ticket"]["code"]
        yield target
    finally:
        cluster.stop()


async def url_target(opts: Options) -> Target:
    """A running server and an event made for the rehearsal: refused if it has registrants or limits are on."""
    assert opts.url and opts.token and opts.event
    url, auth = opts.url.rstrip("/"), {"authorization": f"Bearer {opts.token}"}
    async with httpx.AsyncClient() as client:
        stats = await client.get(f"{url}/api/v1/events/{opts.event}/stats", headers=auth)
        if stats.status_code != 200:
            raise SystemExit(f"error: {url} answers {stats.status_code} for the event's figures (token? slug?)")
        figures = stats.json()
        if figures["venue"]["registered"] or figures["online"]["unique"] or figures["venue"]["checked_in"]:
            raise SystemExit("error: the event already has registrants or viewers; make a new one for the rehearsal")
        # Per-address limits: pairing allows 10 attempts a minute; an 11th wrong code answers 429 when they are on.
        for _ in range(11):
            probe = await client.post(f"{url}/api/v1/kiosk/pair", json={"code": "REHEARSE"})
            if probe.status_code == 429:
                raise SystemExit("error: the target's per-address limits are on (set CHECKIN_RATE_LIMITS=off)")
        sync = await client.get(f"{url}/api/v1/events/{opts.event}/kiosk/sync", headers=auth)
        capacity = int(sync.json()["event"]["capacity"])
    return Target(url, opts.event, opts.token, [opts.token] * opts.kiosks, opts.token, capacity)


async def probe_grace(stage: Stage) -> float:
    """The server's grace period, as its watch socket says in `hello` (a socket that never plays counts nothing)."""
    code = next((r.code for r in stage.truth.registrants.values() if r.mode == "online" and r.code), None)
    if code is None:
        return 12.0
    async with connect(f"{stage.ws_url}/ws/events/{stage.slug}/watch?ticket={code}") as ws:
        return float(json.loads(await ws.recv()).get("grace", 12.0))


async def play(opts: Options, plan: Plan, target: Target) -> dict[str, Any]:
    """The whole day against the target; the result (also what `--json` writes)."""
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        stage = Stage(target.url, target.slug, target.organiser, target.kiosk_tokens, target.dashboard_token, plan,
                      Clock(time.time(), opts.speed), Truth(), client, target.foreign_code,
                      servers=target.servers or [target.url])  # fmt: skip
        progress(stage, f"registrations: {len(plan.venue())} venue, {opts.viewers} online")
        began = time.time()
        await register_all(stage)
        stage.counts["registration_s"] = round(time.time() - began)
        stage.truth.grace = await probe_grace(stage)
        stage = _start_day(stage, opts.speed)
        progress(stage, f"the day: {plan.kiosks} kiosks, {opts.dashboards} dashboards, faults {sorted(opts.faults)}")
        dashboards = open_dashboards(stage, opts.dashboards)
        viewers, shares = split(stage, viewers_of(stage), max(1, opts.processes))
        crowd = Crowd(stage, shares) if shares else None
        if crowd is not None:
            stage.elsewhere = crowd.online
        slow = slow_dashboard(stage) if "slow" in opts.faults else None
        side = [asyncio.create_task(ticker(stage))]
        if (plan.kill_at is not None or plan.redis_at is not None) and target.cluster is not None:
            side.append(asyncio.create_task(fault_players.play_faults(stage, target.cluster)))
        if "junk" in opts.faults:
            side.append(asyncio.create_task(fault_players.junk_burst(stage, -25 * MINUTE)))
        try:
            others = [crowd.played()] if crowd else []
            await asyncio.gather(play_door(stage), play_viewers(stage, viewers), *others, *side[1:])
            await stage.until(DAY_END)
            progress(stage, "\nsettling: the last viewings end after their grace period")
            await asyncio.sleep(stage.truth.grace + 3)
            settled = time.time()
            await settled_snapshot(stage, settled)
            observed, people = await observe(stage)
            now = time.time()
            expected: dict[str, object] = dict(stage.truth.figures(now))
            if target.cluster is not None:
                expected["mails"] = stage.truth.mails + 1  # and the other event's one ticket
                observed["outbox"] = {"mails": len(list(target.cluster.first.outbox.glob("*.eml")))}
            rows = compare_figures(expected, observed, stage.truth.grace)
            mine = stage.truth.people(now)
            people_diff = compare_people(mine, people)
        finally:
            for task in side:
                task.cancel()
            await asyncio.gather(*(v.close() for v in viewers), *(d.close() for d in dashboards))
            if crowd is not None:
                await crowd.close()
            if slow is not None:
                slow.close()
    result: dict[str, Any] = {
        "ok": exit_status(rows, people_diff, stage.problems) == 0,
        "options": {
            "registrants": opts.registrants,
            "viewers": opts.viewers,
            "kiosks": opts.kiosks,
            "speed": opts.speed,
            "faults": sorted(opts.faults),
            "processes": opts.processes,
            "url": target.url,
            "servers": len(stage.servers),
            "database": "postgresql" if opts.db else "sqlite" if target.cluster is not None else None,
            "redis": "own" if target.cluster and target.cluster.own_redis else "given" if opts.redis else None,
        },
        "faults": stage.fault_log,
        "figures": [{"figure": r.figure, "expected": r.expected, "observed": r.observed, "ok": r.ok} for r in rows],
        "people_differences": people_diff,
        "problems": stage.problems,
        "counts": stage.counts,
        "grace": stage.truth.grace,
        "latency": {"scan": latency(stage.scan_ms), "scan_to_dashboard": latency(scan_to_dashboard_ms(stage))},
    }
    result["table"] = render(result, rows, opts.lang)
    return result


def _start_day(stage: Stage, speed: float) -> Stage:
    """The doors open in two seconds: the plan's clock starts."""
    stage.clock = Clock(time.time() + 2, speed)
    return stage


async def rehearse(opts: Options) -> int:
    """Play the day; 0 when every figure agrees with our truth."""
    plan_capacity = None
    target_ctx: contextlib.AbstractAsyncContextManager[Target]
    with tempfile.TemporaryDirectory(prefix="checkin-rehearsal-") as workdir:
        if opts.url:
            target = await url_target(opts)
            plan_capacity = target.capacity
            plan = make_plan(opts.registrants, opts.viewers, opts.kiosks, opts.faults - {"kill", "redis"}, opts.seed,
                             plan_capacity)  # fmt: skip
            result = await play(opts, plan, target)
        else:
            plan = make_plan(opts.registrants, opts.viewers, opts.kiosks, opts.faults, opts.seed)
            target_ctx = own_target(opts, plan, Path(workdir))
            async with target_ctx as target:
                result = await play(opts, plan, target)
    print(result["table"])
    if opts.json_file is not None:
        write_json(result, opts.json_file)
    return 0 if result["ok"] else 1


def cmd_rehearse(args: argparse.Namespace, settings: object) -> int:
    """The `checkin rehearse` command."""
    if args.url and not (args.token and args.event):
        print("error: --url needs --token (an organiser token) and --event (an event made for the rehearsal)",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        faults = fault_players.parse_faults(args.faults)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    problem = refusal(args.servers, args.db, args.redis, faults, args.url)
    if problem is None and args.db:
        problem = database_refusal(args.db)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    opts = Options(args.registrants, args.viewers, args.kiosks, args.dashboards, args.speed, faults, args.url,
                   args.token, args.event, args.lang, args.json, args.seed, args.processes, args.db, args.redis,
                   args.servers)  # fmt: skip
    return asyncio.run(rehearse(opts))


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `checkin rehearse`."""
    p = sub.add_parser("rehearse", help="play an event day with faults and check every figure")
    p.add_argument("--registrants", type=int, default=300, help="venue applicants (default 300)")
    p.add_argument("--viewers", type=int, default=300, help="online registrants who watch (default 300)")
    p.add_argument("--kiosks", type=int, default=4)
    p.add_argument("--dashboards", type=int, default=20)
    p.add_argument("--speed", type=float, default=60.0, help="plan seconds per real second (default 60)")
    p.add_argument("--faults", default="", help="comma-separated: kill, offline, slow, junk, redis; or all")
    p.add_argument("--url", help="a running server (default: start our own)")
    p.add_argument("--token", help="with --url: an organiser token of the event")
    p.add_argument("--event", help="with --url: the slug of an event made for the rehearsal, with no registrants")
    p.add_argument("--lang", choices=["ja", "en"], default="ja")
    p.add_argument("--json", type=Path, help="also write the summary as JSON to this file")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--processes", type=int, default=1, help="client processes the viewers are spread over")
    p.add_argument("--servers", type=int, default=1, help="own servers on one PostgreSQL and Redis (default 1)")
    p.add_argument("--db", help="a new, empty PostgreSQL database for them (default: a temporary SQLite file)")
    p.add_argument("--redis", help="a Redis for them (default, when needed: a redis-server of the rehearsal's own)")
    p.set_defaults(handler=cmd_rehearse)

"""Three real `checkin serve` processes on one PostgreSQL database: the door and the form stay exact."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from checkin.models import Event, Mode, Role
from checkin.settings import Settings
from checkin.storage import opened
from tests.conftest import make_token, seed_event
from tests.door_helpers import code_of, register, scan_id
from tests.pg import fresh_database
from tests.serve_process import ServerProcess, start
from tests.utils import EVENT, free_port

pytestmark = pytest.mark.slow


@dataclass
class Cluster:
    settings: Settings
    servers: list[ServerProcess]


@contextlib.contextmanager
def cluster(tmp_path: Path, count: int = 3) -> Iterator[Cluster]:
    """`count` servers on one empty PostgreSQL database (the first to start creates the schema)."""
    with fresh_database(empty=True) as url:
        settings = Settings(db_path=tmp_path / "unused.db", qr_workers=0).with_db(url)
        env = {"CHECKIN_DB": url, "CHECKIN_QR_WORKERS": "0"}
        servers: list[ServerProcess] = []
        try:
            for n in range(count):
                servers.append(start(tmp_path / "unused.db", free_port(), tmp_path / f"server{n}.log", env))
            yield Cluster(settings, servers)
        finally:
            for server in servers:
                server.stop()


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with cluster(tmp_path_factory.mktemp("pg_servers")) as running:
        yield running


def _event(settings: Settings, slug: str, **changes: Any) -> Event:
    return seed_event(settings, replace(EVENT, slug=slug, **changes))


async def _post(url: str, path: str, body: dict[str, Any], token: str | None = None) -> httpx.Response:
    headers = {} if token is None else {"authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, timeout=60, headers=headers) as http:
        return await http.post(path, json=body)


def _checked_in(settings: Settings, event: Event) -> set[int]:
    with opened(settings) as db:
        rows = db.read_sync(
            lambda conn: conn.execute("SELECT registrant_id FROM attendance WHERE event_id = ?", (event.id,)).fetchall()
        )
    return {int(row[0]) for row in rows}


def test_sixteen_kiosks_on_three_servers_scanning_one_ticket_give_exactly_one_ok(three: Cluster) -> None:
    """One ok, fifteen already_checked_in naming the same kiosk, one check-in stored."""
    event = _event(three.settings, "one-ticket")
    tokens = [make_token(three.settings, event, Role.KIOSK, f"受付{n}") for n in range(16)]
    with opened(three.settings) as db:
        code = code_of(register(db, event, 1)[0])

    async def rush() -> list[httpx.Response]:
        return list(
            await asyncio.gather(
                *(
                    _post(three.servers[n % 3].url, f"/api/v1/events/{event.slug}/scans", body, token)
                    for n, (token, body) in enumerate((t, {"code": code, "scan_id": scan_id()}) for t in tokens)
                )
            )
        )

    bodies = [response.json() for response in asyncio.run(rush())]
    assert sorted(body["result"] for body in bodies) == ["already_checked_in"] * 15 + ["ok"]
    assert len({body["first_kiosk"] for body in bodies}) == 1
    assert len(_checked_in(three.settings, event)) == 1


def test_first_scans_on_three_servers_each_see_the_counts_after_their_own(three: Cluster) -> None:
    """48 tickets scanned at once by 8 kiosks over three servers: the answers' checked_in and in_hall are exactly
    1..48 (each scan's figures are those after it, whichever server and batch decided it), as the counts row."""
    event = _event(three.settings, "counted", capacity=100)
    tokens = [make_token(three.settings, event, Role.KIOSK, f"受付{n}") for n in range(8)]
    with opened(three.settings) as db:
        codes = [code_of(registration) for registration in register(db, event, 48)]
    path = f"/api/v1/events/{event.slug}/scans"

    async def rush() -> list[httpx.Response]:
        return list(
            await asyncio.gather(
                *(
                    _post(three.servers[n % 3].url, path, {"code": code, "scan_id": scan_id()}, tokens[n % 8])
                    for n, code in enumerate(codes)
                )
            )
        )

    bodies = [response.json() for response in asyncio.run(rush())]
    assert {body["result"] for body in bodies} == {"ok"}
    assert sorted(body["checked_in"] for body in bodies) == list(range(1, 49))
    assert sorted(body["in_hall"] for body in bodies) == list(range(1, 49))
    with opened(three.settings) as db:
        row = db.read_sync(
            lambda conn: conn.execute(
                "SELECT checked_in, in_hall FROM attendance_counts WHERE event_id = ?", (event.id,)
            ).fetchone()
        )
    assert (row[0], row[1]) == (48, 48) == (len(_checked_in(three.settings, event)), 48)


def test_a_scan_retried_on_other_servers_returns_the_first_answer(three: Cluster) -> None:
    """The same scan_id sent to all three servers at once, twice over: one answer, one logged scan."""
    event = _event(three.settings, "retried")
    token = make_token(three.settings, event, Role.KIOSK, "受付1")
    with opened(three.settings) as db:
        code = code_of(register(db, event, 1)[0])
    body = {"code": code, "scan_id": scan_id()}
    path = f"/api/v1/events/{event.slug}/scans"

    async def retries() -> list[httpx.Response]:
        return list(await asyncio.gather(*(_post(server.url, path, body, token) for server in three.servers * 2)))

    answers = [response.json() for response in asyncio.run(retries())]
    assert all(answer == answers[0] for answer in answers)
    assert answers[0]["result"] == "ok"
    with opened(three.settings) as db:
        logged = db.read_sync(
            lambda conn: conn.execute("SELECT COUNT(*) FROM scans WHERE event_id = ?", (event.id,)).fetchone()[0]
        )
    assert logged == 1


def test_registrations_through_three_servers_keep_capacity_exact(three: Cluster) -> None:
    """60 venue registrations at once for 20 seats, spread over three servers: 20 registered, 40 waiting."""
    event = _event(three.settings, "seats", capacity=20)
    person = {"name": "髙橋 﨑子", "kana": "タカハシ サキコ", "organisation": "総務省", "mode": "venue"}

    async def rush() -> list[httpx.Response]:
        return list(
            await asyncio.gather(
                *(
                    _post(
                        three.servers[n % 3].url,
                        f"/api/v1/events/{event.slug}/registrations",
                        dict(person, email=f"p{n}@example.jp"),
                    )
                    for n in range(60)
                )
            )
        )

    responses = asyncio.run(rush())
    assert {response.status_code for response in responses} == {201}
    statuses = [response.json()["registrant"]["status"] for response in responses]
    assert statuses.count("registered") == 20
    assert statuses.count("waitlisted") == 40
    with opened(three.settings) as db:
        held = db.read_sync(
            lambda conn: conn.execute(
                "SELECT COUNT(*) FROM registrants WHERE event_id = ? AND mode = 'venue' AND status = 'registered'",
                (event.id,),
            ).fetchone()[0]
        )
    assert held == 20


def test_a_server_killed_mid_rush_loses_no_check_in_it_answered(tmp_path: Path) -> None:
    """kill -9 of one server while 90 scans are in flight: every ok answered is stored; retries finish the rest."""
    with cluster(tmp_path) as running:
        event = _event(running.settings, "crash", capacity=500)
        tokens = [make_token(running.settings, event, Role.KIOSK, f"受付{n}") for n in range(3)]
        with opened(running.settings) as db:
            people = register(db, event, 90, Mode.VENUE)
        scans = [(n % 3, {"code": code_of(person), "scan_id": scan_id()}) for n, person in enumerate(people)]
        path = f"/api/v1/events/{event.slug}/scans"
        victim = running.servers[0]

        async def rush() -> list[dict[str, Any] | None]:
            answered_by_victim = 0
            killed = asyncio.Event()

            async def one(server: int, body: dict[str, Any]) -> dict[str, Any] | None:
                nonlocal answered_by_victim
                try:
                    response = await _post(running.servers[server].url, path, body, tokens[server])
                except httpx.HTTPError:
                    return None  # the kiosk keeps it in its queue
                if server == 0:
                    answered_by_victim += 1
                    if answered_by_victim == 5 and not killed.is_set():
                        os.kill(victim.proc.pid, signal.SIGKILL)
                        killed.set()
                return dict(response.json()) if response.status_code == 200 else None

            return list(await asyncio.gather(*(one(server, body) for server, body in scans)))

        answers = asyncio.run(rush())
        victim.proc.wait(timeout=30)
        assert victim.proc.poll() is not None
        answered_ok = {
            people[n].registrant.id for n, answer in enumerate(answers) if answer and answer["result"] == "ok"
        }
        assert answered_ok <= _checked_in(running.settings, event)

        async def retry() -> list[httpx.Response]:  # the queued scans go again, same scan_id, to a living server
            return list(
                await asyncio.gather(
                    *(
                        _post(running.servers[1].url, path, body, tokens[1])
                        for (_, body), answer in zip(scans, answers, strict=True)
                        if answer is None
                    )
                )
            )

        assert all(response.json()["result"] == "ok" for response in asyncio.run(retry()))
        assert _checked_in(running.settings, event) == {person.registrant.id for person in people}

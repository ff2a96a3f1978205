"""The weeks before: applications through the public API, cancellations through the ticket page (spread over
the servers, person n on server n modulo their number)."""

from __future__ import annotations

import asyncio

from checkin.rehearsal.plan import Person
from checkin.rehearsal.stage import Stage
from checkin.rehearsal.truth import Registrant


async def apply(stage: Stage, person: Person, expected: str) -> None:
    """One application; the answer gives the reference number, id and ticket code (the e-mail's contents)."""
    body = {"name": person.name, "kana": person.kana, "email": person.email,
            "organisation": person.organisation, "mode": person.mode}  # fmt: skip
    answer = await stage.client.post(stage.api("/registrations", person.key), json=body)
    if answer.status_code != 201:
        stage.problem(f"registration of {person.email}: {answer.status_code} {answer.text[:200]}")
        return
    data = answer.json()
    reg: Registrant = stage.truth.registrants[person.key]
    reg.ref_no, reg.id = data["registrant"]["ref_no"], data["registrant"]["id"]
    reg.code = data["ticket"]["code"] if data["ticket"] else None
    if data["registrant"]["status"] != expected:
        stage.problem(f"{reg.ref_no}: registered as {data['registrant']['status']}, expected {expected}")
    stage.bump("registered")


async def register_all(stage: Stage) -> None:
    """Venue applications one after another (their order decides the waiting list), online ones in parallel."""
    venue = stage.plan.venue()
    for person in venue:
        await apply(stage, person, stage.truth.register(person.key, "venue", stage.plan.capacity))
    online = [p for p in stage.plan.people if p.mode == "online"]
    gate = asyncio.Semaphore(8)

    async def one(person: Person) -> None:
        async with gate:
            await apply(stage, person, stage.truth.register(person.key, "online", stage.plan.capacity))

    await asyncio.gather(*(one(p) for p in online))
    for person in venue:
        if person.cancels:
            await cancel(stage, person)


async def cancel(stage: Stage, person: Person) -> None:
    """Cancel on the ticket page's form, as the registrant does; our truth moves the waiting list up."""
    reg = stage.truth.registrants[person.key]
    if reg.code is None:
        return
    answer = await stage.client.post(f"{stage.base(person.key)[1]}/t/{reg.code}/cancel")
    if answer.status_code != 303:
        stage.problem(f"cancelling {reg.ref_no}: {answer.status_code}")
        return
    stage.truth.cancel(person.key)
    stage.bump("cancelled")

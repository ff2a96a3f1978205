"""The door: K kiosks scanning on the plan's arrival curve, through the kiosk API only.

Each kiosk is one device doing one thing at a time; with several servers, kiosk n's home is server n modulo
their number, and the balancer sends its requests elsewhere while that one is down. The offline kiosk queues
what it scans in its window (with `scanned_at` and the decision it showed, as the kiosk page does) and uploads
it when it is back.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from checkin.rehearsal.stage import Stage, iso

HEARTBEAT = 5.0  # real seconds between a kiosk's heartbeats


@dataclass(frozen=True)
class Action:
    """One thing a kiosk does at a plan time."""

    at: float
    kind: str  # scan, duplicate, search, undo, out, back, walkin, junk, foreign, revoked
    key: int = -1
    code: str = ""


def actions(stage: Stage) -> list[list[Action]]:
    """What each kiosk does, in order."""
    plan = stage.plan
    per: list[list[Action]] = [[] for _ in range(plan.kiosks)]
    for person in plan.people:
        if person.arrives_at is None:
            continue
        kind = "search" if person.dead_phone else "undo" if person.undo else "scan"
        per[person.kiosk].append(Action(person.arrives_at, kind, person.key))
        if person.duplicate_after is not None:
            per[person.kiosk].append(Action(person.arrives_at + person.duplicate_after, "duplicate", person.key))
        if person.exit_at is not None:
            per[person.kiosk].append(Action(person.exit_at, "out", person.key))
        if person.reenter_at is not None:
            per[person.kiosk].append(Action(person.reenter_at, "back", person.key))
    for number, walkin in enumerate(plan.walkins):
        per[walkin.kiosk].append(Action(walkin.at, "walkin", len(plan.people) + number))
    for at, kiosk, code in plan.junk_scans:
        per[kiosk].append(Action(at, "junk", code=code))
    for at, kiosk, key in plan.revoked_scans:
        per[kiosk].append(Action(at, "revoked", key))
    if stage.foreign_code:
        per[-1].append(Action(plan.junk_scans[0][0] + 1, "foreign", code=stage.foreign_code))
    return [sorted(actions, key=lambda a: a.at) for actions in per]


EXPECTED = {"scan": "ok", "search": "ok", "undo": "ok", "duplicate": "already_checked_in", "out": "exited",
            "back": "ok", "walkin": "ok", "revoked": "revoked", "foreign": "wrong_event"}  # fmt: skip


class Kiosk:
    """One kiosk device."""

    def __init__(self, stage: Stage, number: int) -> None:
        self.stage, self.number = stage, number
        self.token = stage.kiosk_tokens[number]
        self.home = number
        self.queue: list[tuple[str, dict[str, Any], Action, float]] = []
        self.offline = False

    async def run(self, todo: list[Action]) -> None:
        beat = asyncio.create_task(self.heartbeats())
        window = self.stage.plan.offline if self.number == 0 else None
        cursor = await self.sync(None)
        deferred: list[Action] = []
        try:
            for action in todo:
                if window and not self.offline and window[0] <= action.at < window[1]:
                    self.offline = True
                    self.stage.bump("offline_windows")
                if window and self.offline and action.at >= window[1]:
                    await self.back_online(cursor, deferred)
                    deferred = []
                await self.stage.until(action.at)
                if self.offline and action.kind not in {"scan", "walkin"}:
                    deferred.append(action)  # offline it only admits; the rest waits for the network
                    continue
                await self.perform(action)
            if self.offline:
                await self.stage.until(window[1] if window else 0)
                await self.back_online(cursor, deferred)
        finally:
            beat.cancel()

    async def back_online(self, cursor: str | None, deferred: list[Action]) -> None:
        self.offline = False
        await self.sync(cursor)
        for path, body, action, at in self.queue:
            answer = await self.stage.post_retrying(path, body, self.token, self.home)
            data = self.check(action, answer)
            if action.kind == "walkin" and data is not None and data.get("result") == "ok":
                self.walked_in(action.key, at, data)
        self.stage.bump("offline_uploaded", len(self.queue))
        self.queue = []
        for action in deferred:
            await self.perform(action)

    async def sync(self, cursor: str | None) -> str | None:
        """The offline copy: full at start, a delta when back."""
        params = {"since": cursor} if cursor else {}
        number, base = self.stage.base(self.home)
        url = f"{base}/api/v1/events/{self.stage.slug}/kiosk/sync"
        try:
            answer = await self.stage.client.get(url, params=params, headers=self.auth)
            return str(answer.json()["cursor"]) if answer.status_code == 200 else None
        except httpx.HTTPError:
            self.stage.balancer.failed(number)
            return None
        except (ValueError, KeyError):
            return None

    @property
    def auth(self) -> dict[str, str]:
        return self.stage.auth(self.token)

    async def heartbeats(self) -> None:
        while True:
            body = {"queue_length": len(self.queue), "last_scan_at": None, "direction": "in", "online": True}
            if not self.offline:
                number, base = self.stage.base(self.home)
                url = f"{base}/api/v1/events/{self.stage.slug}/kiosk/heartbeat"
                try:
                    await self.stage.client.post(url, json=body, headers=self.auth)
                except httpx.HTTPError:
                    self.stage.balancer.failed(number)
            await asyncio.sleep(HEARTBEAT)

    def code_of(self, key: int) -> str:
        return self.stage.truth.registrants[key].code or ""

    async def perform(self, action: Action) -> None:
        stage, truth = self.stage, self.stage.truth
        if action.kind == "walkin":
            walkin = stage.plan.walkins[action.key - len(stage.plan.people)]
            body: dict[str, Any] = {"name": walkin.name, "kana": walkin.kana}
            answer = await self.send("/walkins", body, action)
            if answer is not None and answer.get("result") == "ok":
                self.walked_in(action.key, answer["_at"], answer)
            return
        if action.kind == "search":
            body = await self.search(action.key)
        elif action.kind in {"junk", "foreign"}:
            body = {"code": action.code}
        else:
            body = {"code": self.code_of(action.key)}
        if action.kind == "out":
            body["direction"] = "out"
        answer = await self.send("/scans", body, action)
        if answer is None or answer.get("result") != EXPECTED.get(action.kind, answer.get("result")):
            return
        if action.kind in {"scan", "search", "undo", "back"}:
            truth.check_in(action.key, answer["_at"])
        elif action.kind == "out":
            truth.exit(action.key)
        if action.kind == "undo":
            await self.undo(action)

    def walked_in(self, key: int, at: float, answer: dict[str, Any]) -> None:
        self.stage.truth.walkin(key, at)
        reg = self.stage.truth.registrants[key]
        reg.ref_no, reg.id = answer["registrant"]["ref_no"], answer["registrant"]["id"]

    async def undo(self, action: Action) -> None:
        """The wrong person was let in: take it back, then scan the right ticket (the same person, here)."""
        reg = self.stage.truth.registrants[action.key]
        answer = await self.stage.retrying("DELETE", f"/checkins/{reg.id}", self.token, home=self.home)
        if answer is None:
            self.stage.problem(f"undo of {reg.ref_no}: no answer")
            return
        # a retry of an undo whose first answer was lost finds nobody checked in: it was done
        retried_done = answer.status_code == 404 and answer.extensions.get("tries", 1) > 1
        if not retried_done and (answer.status_code != 200 or answer.json().get("result") != "undone"):
            self.stage.problem(f"undo of {reg.ref_no}: {answer.status_code} {answer.text[:100]}")
            return
        self.stage.truth.undo(action.key)
        self.stage.bump("undone")
        await asyncio.sleep(0.5)
        await self.perform(Action(action.at, "scan", action.key))

    async def search(self, key: int) -> dict[str, Any]:
        """A dead phone: look the person up by their reading, typed in hiragana without the space."""
        reg = self.stage.truth.registrants[key]
        person = self.stage.plan.people[key]
        typed = "".join(chr(ord(c) - 0x60) if "ァ" <= c <= "ヶ" else c for c in person.kana.replace(" ", ""))
        answer = await self.stage.retrying("GET", f"/registrants?{urlencode({'q': typed})}", self.token, home=self.home)
        items = answer.json().get("registrants", []) if answer is not None and answer.status_code == 200 else []
        found = [r for r in items if r["ref_no"] == reg.ref_no]
        if not found:
            self.stage.problem(f"search for {reg.ref_no} by reading {typed!r} did not find them")
            return {"code": self.code_of(key)}
        self.stage.bump("searched")
        return {"registrant_id": found[0]["id"]}

    async def send(self, path: str, body: dict[str, Any], action: Action) -> dict[str, Any] | None:
        """One scan or walk-in, retried with its scan_id until answered; the answer with `_at`, its time."""
        at = time.time()
        body = {**body, "scan_id": str(uuid.uuid4())}
        if self.offline:
            self.queue.append((path, {**body, "scanned_at": iso(at), "offline_decision": "ok"}, action, at))
            self.stage.bump("queued_offline")
            # the kiosk decided from its copy: our truth records the admission as it happened
            if action.kind == "scan":
                self.stage.truth.check_in(action.key, at)
            return None
        answer = await self.stage.post_retrying(path, body, self.token, self.home)
        done = time.time()
        self.stage.scan_ms.append((done - at) * 1000)
        data = self.check(action, answer)
        if data is None:
            return None
        if isinstance(data.get("checked_in"), int):
            self.stage.scan_answers.append((at, done, data["checked_in"]))
        self.stage.bump("scans")
        return {**data, "_at": at}

    def check(self, action: Action, answer: httpx.Response | None) -> dict[str, Any] | None:
        """The answer's JSON if it is the one the plan expects; otherwise a problem."""
        if answer is None:
            self.stage.problem(f"kiosk {self.number + 1}: {action.kind} never answered")
            return None
        data: dict[str, Any] = answer.json()
        result = data.get("result")
        allowed = {"invalid", "unknown"} if action.kind == "junk" else {EXPECTED[action.kind]}
        if answer.status_code != 200 or result not in allowed:
            self.stage.problem(f"kiosk {self.number + 1}: {action.kind} answered {answer.status_code} {result}")
        return data


async def play_door(stage: Stage) -> None:
    """All kiosks, from the doors' opening to the last planned scan."""
    per = actions(stage)
    await asyncio.gather(*(Kiosk(stage, n).run(todo) for n, todo in enumerate(per)))

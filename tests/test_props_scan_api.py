"""A stateful property of the door's API through the real app: any sequence of scans (valid, duplicate, revoked,
wrong event, garbage, malformed), retries, undos, exits, re-entries and late offline scans keeps the venue figures
of `/stats` and the kiosk's offline copy equal to a model of who is in, and a retried scan_id changes nothing
and gets its first answer."""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, precondition, rule
from starlette.testclient import TestClient

import tests.hypothesis_profile  # noqa: F401  (registers the profiles)
from checkin import tickets
from checkin.app import create_app
from checkin.models import Mode, Role, Status, iso
from checkin.registration import Application
from checkin.scans import Decision, Direction, Presence, Subject
from checkin.services import build
from checkin.settings import Settings, SmtpSettings
from checkin.storage import opened
from checkin.storage import registrants as store
from checkin.storage.events import create_event
from tests.conftest import make_token
from tests.test_props_scans import door, model
from tests.utils import EVENT

CAPACITY = 3


@dataclass(frozen=True)
class Target:
    """Something a kiosk can scan for one registrant: a ticket code or the registrant's id (search)."""

    registrant_id: int
    subject: Subject
    code: str | None = None

    def body(self) -> dict[str, Any]:
        return {"code": self.code} if self.code is not None else {"registrant_id": self.registrant_id}


@dataclass(frozen=True)
class Sent:
    """A scan as sent, and the answer it got."""

    body: dict[str, Any]
    answer: dict[str, Any]


def _person(n: int, mode: Mode) -> Application:
    return Application(f"山田 {n}郎", "ヤマダ タロウ", f"door{n}@example.jp", "", mode)


MISSING = object()
# For each field of a scan, values a kiosk would never send (a missing code, with no registrant_id either).
BAD_FIELDS: dict[str, list[Any]] = {
    "scan_id": [MISSING, None, 5, "", "   ", "x" * 65, ["a"]],
    "code": [5, True, {"a": 1}, ["CK1"], MISSING],
    "registrant_id": [True, 0, -1, 2**63, 1.5, "1"],
    "direction": ["sideways", "IN", 1, [], ""],
    "method": ["telepathy", 3],
    "scanned_at": ["yesterday", 12345, "2023-13-45T00:00:00", "x" * 41, True],
    "offline_decision": [5, "x" * 33, ["ok"]],
}


def _json_object(raw: bytes) -> bool:
    """Whether random bytes happen to be a JSON object (then they are a scan, not junk)."""
    try:
        return isinstance(json.loads(raw), dict)
    except ValueError:
        return False


class Door(RuleBasedStateMachine):
    """One event at the door: three venue seats, registrants of every kind, one kiosk, a clock we move."""

    sent = Bundle("sent")

    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.TemporaryDirectory(prefix="props_door_")
        root = Path(self.folder.name)
        app_settings = Settings(
            db_path=root / "checkin.db",
            sqlite_synchronous="NORMAL",
            qr_workers=0,
            smtp=SmtpSettings(outbox=root / "outbox"),
        )
        self.now = float(int(time.time()))  # whole seconds: scanned_at travels at that precision
        self.targets, self.foreign = self._seed(app_settings)
        self.kiosk = make_token(app_settings, self.event, Role.KIOSK, "受付1")
        self.dashboard = make_token(app_settings, self.event, Role.DASHBOARD, "projector")
        services = build(app_settings)
        services.clock = lambda: self.now
        self.client = TestClient(create_app(app_settings, services))
        self.client.__enter__()
        self.inside: dict[int, Presence | None] = {target.registrant_id: None for target in self.targets}
        self.copy: dict[int, dict[str, Any]] = {}  # the kiosk's offline copy, kept up to date by deltas
        self.cursor = ""

    def _seed(self, app_settings: Settings) -> tuple[list[Target], list[str]]:
        """Registrants: two venue seats, one reissued ticket (old code revoked), online, waiting, cancelled."""
        with opened(app_settings) as db:
            self.event = db.write_sync(create_event, replace(EVENT, capacity=CAPACITY), self.now)
            other = db.write_sync(create_event, replace(EVENT, slug="elsewhere"), self.now)
            made = [
                db.write_sync(store.register, self.event, _person(n, mode), self.now, enforce_open=False)
                for n, mode in enumerate([Mode.VENUE, Mode.VENUE, Mode.VENUE, Mode.ONLINE, Mode.VENUE, Mode.ONLINE])
            ]
            ids = [registration.registrant.id for registration in made]
            assert made[4].registrant.status is Status.WAITLISTED
            assert made[2].ticket is not None
            old_code = made[2].ticket.code
            new_code = db.write_sync(store.reissue_ticket, self.event, ids[2], self.now, "test").code
            db.write_sync(store.cancel, self.event, ids[5], self.now, "test")
            stranger = db.write_sync(store.register, other, _person(9, Mode.VENUE), self.now, enforce_open=False)
        codes = [registration.ticket.code if registration.ticket else None for registration in made]
        venue, online = Subject(Mode.VENUE, Status.REGISTERED), Subject(Mode.ONLINE, Status.REGISTERED)
        targets = [
            Target(ids[0], venue, codes[0]),
            Target(ids[0], venue),  # found by search
            Target(ids[1], venue, codes[1]),
            Target(ids[2], venue, new_code),
            Target(ids[2], Subject(Mode.VENUE, Status.REGISTERED, ticket_revoked=True), old_code),
            Target(ids[3], online, codes[3]),
            Target(ids[4], Subject(Mode.VENUE, Status.WAITLISTED)),
            Target(ids[5], Subject(Mode.ONLINE, Status.CANCELLED, ticket_revoked=True), codes[5]),
            Target(ids[5], Subject(Mode.ONLINE, Status.CANCELLED)),
        ]
        assert stranger.ticket is not None
        return targets, [stranger.ticket.code, tickets.new_code("elsewhere")]

    def teardown(self) -> None:
        self.client.__exit__(None, None, None)
        self.folder.cleanup()

    # What the model holds.
    def counts(self) -> tuple[int, int]:
        """(checked_in, in_hall) by the model."""
        people = [presence for presence in self.inside.values() if presence is not None]
        return len(people), sum(presence.inside for presence in people)

    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        response = self.client.post(
            f"/api/v1/events/{self.event.slug}/scans", json=body, headers={"authorization": f"Bearer {self.kiosk}"}
        )
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def _scan(self, target: Target, direction: Direction, offline: str | None, earlier: int) -> Sent:
        """Send one scan of a registrant and check its answer against the model, which then moves on."""
        self.now += 1
        body = {**target.body(), "scan_id": str(uuid.uuid4()), "direction": direction.value}
        at = self.now
        if offline is not None:
            at = self.now - earlier
            body |= {"scanned_at": iso(at, self.event.tz), "offline_decision": offline}
        presence = self.inside[target.registrant_id]
        seats = CAPACITY - self.counts()[1]
        result, action = model(target.subject, presence, direction, at, seats, offline)
        answer = self.post(body)
        assert answer["result"] == result.value, (answer, target)
        self.inside[target.registrant_id] = door(presence, Decision(result, action), at)
        assert (answer["checked_in"], answer["in_hall"]) == self.counts()
        standing = self.inside[target.registrant_id]
        if standing is not None:
            assert answer["first_checked_in_at"] == iso(standing.first_checked_in_at, self.event.tz)
        return Sent(body, answer)

    @rule(target=sent, which=st.integers(0, 8), direction=st.sampled_from([Direction.IN, Direction.IN, Direction.OUT]))
    def scan(self, which: int, direction: Direction) -> Sent:
        """A registrant's code (or id) scanned now: entries, duplicates, exits, re-entries, refusals."""
        return self._scan(self.targets[which], direction, None, 0)

    @rule(
        target=sent,
        which=st.integers(0, 8),
        direction=st.sampled_from(Direction),
        offline=st.sampled_from(["ok", "ok", "venue_full", "already_checked_in", "revoked", "not_in_local_data"]),
        earlier=st.sampled_from([1, 30, 600]),
    )
    def scan_offline(self, which: int, direction: Direction, offline: str, earlier: int) -> Sent:
        """An offline kiosk's scan of some time ago arriving now, with what the kiosk decided then."""
        return self._scan(self.targets[which], direction, offline, earlier)

    @precondition(lambda self: any(self.inside.values()))
    @rule(target=sent, pick=st.integers(0, 8), earlier=st.sampled_from([1, 60, 3000]))
    def late_entry(self, pick: int, earlier: int) -> Sent:
        """An offline kiosk let someone in before the entry that stands now: the earlier one stands instead."""
        present = [target for target in self.targets if self.inside[target.registrant_id] is not None]
        target = present[pick % len(present)]
        standing = self.inside[target.registrant_id]
        assert standing is not None
        return self._scan(target, Direction.IN, "ok", int(self.now + 1 - standing.first_checked_in_at) + earlier)

    @rule(
        target=sent,
        which=st.sampled_from(["garbage", "stranger", "foreign", "unissued", "nobody"]),
        raw=st.one_of(st.text(max_size=80), st.sampled_from(["", " ", "CK1-", "/t/", "\x00" * 40])),
        lower=st.booleans(),
    )
    def stray(self, which: str, raw: str, lower: bool) -> Sent:
        """Not a ticket of this event: garbage is invalid, another event's code wrong_event, a code we never
        issued or a registrant id we do not have unknown; nothing changes."""
        self.now += 1
        bodies: dict[str, dict[str, Any]] = {
            "garbage": {"code": raw},
            "stranger": {"code": self.foreign[0]},
            "foreign": {"code": self.foreign[1]},
            "unissued": {"code": tickets.new_code(self.event.slug)},
            "nobody": {"registrant_id": 10_000},
        }
        body = {**bodies[which], "scan_id": str(uuid.uuid4())}
        if lower and which != "nobody":
            body["code"] = body["code"].lower()
        answer = self.post(body)
        expected = {"garbage": "invalid", "stranger": "wrong_event", "foreign": "wrong_event"}.get(which, "unknown")
        assert answer["result"] == expected
        assert "registrant" not in answer and (answer["checked_in"], answer["in_hall"]) == self.counts()
        return Sent(body, answer)

    @rule(which=st.integers(0, 8), field=st.sampled_from(sorted(BAD_FIELDS)), data=st.data())
    def malformed(self, which: int, field: str, data: st.DataObject) -> None:
        """A scan with one field a kiosk would never send: a 422 naming that field, and nothing changes."""
        self.now += 1
        body: dict[str, Any] = {**self.targets[which].body(), "scan_id": str(uuid.uuid4())}
        value = data.draw(st.sampled_from(BAD_FIELDS[field]), label="value")
        if value is MISSING:
            body.pop(field, None)
        else:
            body[field] = value
        if field in ("code", "registrant_id"):  # the other way of naming the person goes
            body.pop("registrant_id" if field == "code" else "code", None)
        response = self.client.post(
            f"/api/v1/events/{self.event.slug}/scans", json=body, headers={"authorization": f"Bearer {self.kiosk}"}
        )
        assert response.status_code == 422, (body, response.text)
        error = response.json()
        assert error["error"] == "invalid" and error["message"] and set(error["fields"]) == {field}

    @rule(
        raw=st.binary(max_size=40).filter(lambda raw: not _json_object(raw))
        | st.sampled_from([b"[]", b"null", b'"scan"', b"{", b"\xff\xfe{}"])
    )
    def not_an_object(self, raw: bytes) -> None:
        """A body that is not a JSON object: 400 bad_request, nothing changes."""
        response = self.client.post(
            f"/api/v1/events/{self.event.slug}/scans",
            content=raw,
            headers={"authorization": f"Bearer {self.kiosk}", "content-type": "application/json"},
        )
        assert response.status_code in (400, 422), response.text
        assert set(response.json()) >= {"error", "message"}

    @rule(earlier=sent, which=st.integers(0, 8), same_body=st.booleans())
    def retry(self, earlier: Sent, which: int, same_body: bool) -> None:
        """A kiosk sends a scan_id again (the same scan, or anything else under it): the first answer, no change."""
        self.now += 1
        body = earlier.body if same_body else {**self.targets[which].body(), "scan_id": earlier.body["scan_id"]}
        assert self.post(body) == earlier.answer

    @rule(which=st.integers(0, 8))
    def undo(self, which: int) -> None:
        """Take a check-in back: gone from the figures, or 404 not_checked_in when there is none."""
        self.now += 1
        registrant_id = self.targets[which].registrant_id
        response = self.client.delete(
            f"/api/v1/events/{self.event.slug}/checkins/{registrant_id}",
            headers={"authorization": f"Bearer {self.kiosk}"},
        )
        if self.inside[registrant_id] is None:
            assert response.status_code == 404 and response.json()["error"] == "not_checked_in"
        else:
            self.inside[registrant_id] = None
            checked_in, in_hall = self.counts()
            assert response.json() == {"result": "undone", "in_hall": in_hall, "checked_in": checked_in}

    @rule(seconds=st.sampled_from([5, 120, 900]))  # 40 steps stay well inside the 24 h an offline scan may be late
    def time_passes(self, seconds: int) -> None:
        self.now += seconds

    @invariant()
    def stats_match_the_model(self) -> None:
        """The dashboard's figures are the model's: people checked in, people in the hall."""
        response = self.client.get(
            f"/api/v1/events/{self.event.slug}/stats", headers={"authorization": f"Bearer {self.dashboard}"}
        )
        venue = response.json()["venue"]
        assert (venue["checked_in"], venue["in_hall"]) == self.counts()

    @invariant()
    def kiosk_copy_matches_the_model(self) -> None:
        """The kiosk's offline copy, kept by deltas since its last cursor, has each registrant's standing check-in."""
        response = self.client.get(
            f"/api/v1/events/{self.event.slug}/kiosk/sync",
            params={"since": self.cursor},
            headers={"authorization": f"Bearer {self.kiosk}"},
        )
        delta = response.json()
        if delta["full"]:
            self.copy = {}
        self.copy.update({row["id"]: row for row in delta["registrants"]})
        self.cursor = delta["cursor"]
        for registrant_id, presence in self.inside.items():
            first = None if presence is None else iso(presence.first_checked_in_at, self.event.tz)
            assert self.copy[registrant_id]["checked_in_at"] == first
        assert (delta["counts"]["checked_in"], delta["counts"]["in_hall"]) == self.counts()


Door.TestCase.settings = settings(max_examples=15, stateful_step_count=40)
test_door_api_keeps_the_figures_of_a_model = Door.TestCase

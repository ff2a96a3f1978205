"""The door's API against a real uvicorn server with concurrent clients."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from checkin import tickets
from checkin.models import Event, Mode, Role, iso
from checkin.registration import Application
from checkin.settings import Settings
from checkin.storage import opened
from checkin.storage import registrants as store
from checkin.storage.events import audit_entries, update_event
from checkin.storage.kiosks import create_kiosk, list_kiosks, revoke_kiosk
from tests.conftest import ORGANISER, make_token
from tests.door_helpers import code_of, register, scan_id
from tests.utils import LiveServer, run_server

pytestmark = pytest.mark.both_engines


def _auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _scans(event: Event) -> str:
    return f"/api/v1/events/{event.slug}/scans"


async def _post_all(server: LiveServer, calls: list[tuple[str, str, dict[str, Any]]]) -> list[httpx.Response]:
    """Send every (token, path, body) at once, each from its own client (as kiosks do)."""
    clients = [httpx.AsyncClient(base_url=server.url, timeout=30, headers=_auth(token)) for token, _, _ in calls]
    try:
        return list(
            await asyncio.gather(*(c.post(path, json=body) for c, (_, path, body) in zip(clients, calls, strict=True)))
        )
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))


def test_sixteen_kiosks_scanning_one_ticket_give_exactly_one_ok(
    settings: Settings, event: Event, live: LiveServer
) -> None:
    """16 kiosks scan one ticket at the same moment: one ok, 15 already_checked_in naming that kiosk."""
    tokens = [make_token(settings, event, Role.KIOSK, f"受付{n}") for n in range(16)]
    with opened(settings) as db:
        code = code_of(register(db, event, 1)[0])
    calls = [(token, _scans(event), {"code": code, "scan_id": scan_id()}) for token in tokens]
    bodies = [r.json() for r in asyncio.run(_post_all(live, calls))]
    results = sorted(body["result"] for body in bodies)
    assert results == ["already_checked_in"] * 15 + ["ok"]
    winner = next(body["first_kiosk"] for body in bodies if body["result"] == "ok")
    assert {body["first_kiosk"] for body in bodies} == {winner}
    assert {body["checked_in"] for body in bodies} == {1}


def test_concurrent_retries_of_one_scan_give_the_first_answer(
    settings: Settings, event: Event, live: LiveServer
) -> None:
    """The same scan_id sent 8 times at once is one check-in, and every answer is the same."""
    token = make_token(settings, event, Role.KIOSK, "受付1")
    with opened(settings) as db:
        code = code_of(register(db, event, 1)[0])
    body = {"code": code, "scan_id": scan_id()}
    answers = [r.json() for r in asyncio.run(_post_all(live, [(token, _scans(event), body)] * 8))]
    assert all(answer == answers[0] for answer in answers)
    assert answers[0]["result"] == "ok"
    with opened(settings) as db:
        assert db.read_sync(lambda c: c.execute("SELECT COUNT(*) FROM scans").fetchone()[0]) == 1


def test_undo_then_scan_again_and_exit_moves_the_hall_count(settings: Settings, event: Event, live: LiveServer) -> None:
    """Undo takes a check-in back (then 404 not_checked_in); exit and re-entry move in_hall, not checked_in."""
    token = make_token(settings, event, Role.KIOSK, "受付1")
    with opened(settings) as db:
        person = register(db, event, 1)[0]
    undo_path = f"/api/v1/events/{event.slug}/checkins/{person.registrant.id}"
    with httpx.Client(base_url=live.url, headers=_auth(token)) as http:

        def scan(direction: str = "in") -> dict[str, Any]:
            body = {"code": code_of(person), "scan_id": scan_id(), "direction": direction}
            return dict(http.post(_scans(event), json=body).json())

        assert scan()["result"] == "ok"
        undone = http.delete(undo_path)
        assert undone.json() == {"result": "undone", "in_hall": 0, "checked_in": 0}
        gone = http.delete(undo_path)
        assert gone.status_code == 404 and gone.json()["error"] == "not_checked_in"
        assert scan()["result"] == "ok"
        exited = scan("out")
        assert (exited["result"], exited["in_hall"], exited["checked_in"]) == ("exited", 0, 1)
        assert scan("out")["result"] == "not_checked_in"
        back = scan()
        assert (back["result"], back["warnings"], back["in_hall"]) == ("ok", ["reentry"], 1)
    with opened(settings) as db:
        assert any(row["action"] == "checkin.undo" for row in db.read_sync(audit_entries, event.id))


def test_offline_scans_of_two_kiosks_reconcile_to_the_earliest(
    settings: Settings, event: Event, live: LiveServer
) -> None:
    """Two offline kiosks admitted the same person; whatever order they sync in, the earlier scan stands.

    Someone an offline kiosk turned away (whatever word it showed) is not counted when its queue arrives.
    """
    kiosk_a = make_token(settings, event, Role.KIOSK, "受付A")
    kiosk_b = make_token(settings, event, Role.KIOSK, "受付B")
    with opened(settings) as db:
        people = register(db, event, 3)
    now = time.time()
    early, late = iso(now - 300, event.tz), iso(now - 120, event.tz)
    with httpx.Client(base_url=live.url) as http:
        for person, order in ((people[0], "late first"), (people[1], "early first")):
            sends = (
                [(kiosk_b, late), (kiosk_a, early)] if order == "late first" else [(kiosk_a, early), (kiosk_b, late)]
            )
            for token, at in sends:
                body = {"code": code_of(person), "scan_id": scan_id(), "scanned_at": at, "offline_decision": "ok"}
                http.post(_scans(event), json=body, headers=_auth(token)).raise_for_status()
        for shown in ("unknown", "not_in_local_data"):  # the kiosk's own word: its copy lacked the code
            refused = {"code": code_of(people[2]), "scan_id": scan_id(), "scanned_at": early, "offline_decision": shown}
            turned_away = http.post(_scans(event), json=refused, headers=_auth(kiosk_a)).json()
            assert (turned_away["result"], turned_away["warnings"]) == ("unknown", ["refused_offline"])
        last = http.post(_scans(event), json={"code": code_of(people[0]), "scan_id": scan_id()}, headers=_auth(kiosk_b))
    assert (last.json()["first_kiosk"], last.json()["first_checked_in_at"]) == ("受付A", early)
    assert last.json()["checked_in"] == 2
    with opened(settings) as db:
        logged = db.read_sync(lambda c: c.execute("SELECT kiosk, result FROM scans ORDER BY id").fetchall())
    assert sorted(tuple(row) for row in logged[:4]) == [
        ("受付A", "ok"),
        ("受付A", "ok"),
        ("受付B", "duplicate"),
        ("受付B", "duplicate"),
    ]


def test_refused_codes_say_why_and_a_revoked_offline_admission_is_flagged(
    settings: Settings, event: Event, live: LiveServer
) -> None:
    """Re-issued, cancelled, foreign, forged, truncated and mistyped codes; an offline-admitted revoked one counts."""
    token = make_token(settings, event, Role.KIOSK, "受付1")
    with opened(settings) as db:
        reissued, cancelled = register(db, event, 2)
        db.write_sync(store.reissue_ticket, event, reissued.registrant.id, time.time(), "test")
        db.write_sync(store.cancel, event, cancelled.registrant.id, time.time(), "test")
    good = tickets.new_code(event.slug)
    expected = {
        code_of(reissued): "revoked",
        code_of(cancelled): "revoked",
        tickets.new_code("another-event"): "wrong_event",
        good: "unknown",
        good[:-5]: "invalid",
        good[:-1] + ("A" if good[-1] != "A" else "B"): "invalid",
        "https://evil.example/?q=1": "invalid",
        "": "invalid",
    }
    with httpx.Client(base_url=live.url, headers=_auth(token)) as http:
        for code, result in expected.items():
            answer = http.post(_scans(event), json={"code": code, "scan_id": scan_id()})
            assert (answer.status_code, answer.json()["result"]) == (200, result), code
        offline = {"code": code_of(cancelled), "scan_id": scan_id(), "offline_decision": "ok"}
        admitted = http.post(_scans(event), json=offline).json()
    assert admitted["result"] == "ok" and "admitted_offline_revoked" in admitted["warnings"]
    assert admitted["checked_in"] == 1
    with opened(settings) as db:
        flagged = [row for row in db.read_sync(audit_entries, event.id) if row["action"] == "scan.flagged"]
        assert [row["subject"] for row in flagged] == [cancelled.registrant.ref_no]


def test_seats_for_online_registrants_and_walkins(settings: Settings, event: Event, live: LiveServer) -> None:
    """With one place left in the hall, an online registrant takes it (registered_online, hall_full); then a
    walk-in is venue_full."""
    token = make_token(settings, event, Role.KIOSK, "受付1")
    with opened(settings) as db:
        venue = register(db, event, 1)[0]
        online = register(db, event, 1, mode=Mode.ONLINE, start=1)[0]
        db.write_sync(update_event, event.slug, {"capacity": 2}, "test", time.time())
    walkins = f"/api/v1/events/{event.slug}/walkins"
    walker = {"name": "飛込 次郎", "kana": "とびこみ じろう", "scan_id": scan_id()}
    with httpx.Client(base_url=live.url, headers=_auth(token)) as http:
        http.post(_scans(event), json={"code": code_of(venue), "scan_id": scan_id()})
        at_door = http.post(_scans(event), json={"code": code_of(online), "scan_id": scan_id()}).json()
        assert (at_door["result"], at_door["warnings"]) == ("ok", ["registered_online", "hall_full"])
        assert http.post(walkins, json=walker).json()["result"] == "venue_full"
        http.post(_scans(event), json={"code": code_of(venue), "scan_id": scan_id(), "direction": "out"})
        walked_in = http.post(walkins, json=dict(walker, scan_id=scan_id())).json()
        assert (walked_in["result"], walked_in["in_hall"], walked_in["checked_in"]) == ("ok", 2, 3)
        assert walked_in["registrant"]["name"] == "飛込 次郎"
        for typed in ("トビコミ", "とびこみ"):  # stored in katakana, found by either script
            search = http.get(f"/api/v1/events/{event.slug}/registrants", params={"q": typed}).json()
            assert search["registrants"][0]["kana"] == "トビコミ ジロウ"
            assert search["registrants"][0]["checked_in_at"] == walked_in["first_checked_in_at"]


ENDPOINTS = [
    ("POST", "/scans", {"code": "x", "scan_id": "a"}),
    ("POST", "/walkins", {"name": "a", "kana": "ア", "scan_id": "b"}),
    ("DELETE", "/checkins/1", None),
    ("GET", "/kiosk/sync", None),
    ("POST", "/kiosk/heartbeat", {"queue_length": 0}),
    ("GET", "/registrants?q=a", None),
]


def test_unauthorised_requests_are_refused(settings: Settings, event: Event, live: LiveServer) -> None:
    """No token: 401; dashboard token: 403; a revoked kiosk: 401 at its next request; and nothing is logged."""
    dashboard = make_token(settings, event, Role.DASHBOARD, "projector")
    with opened(settings) as db:
        kiosk, code = db.write_sync(create_kiosk, event.id, "受付9", time.time())
    with httpx.Client(base_url=live.url) as http:
        paired = http.post("/api/v1/kiosk/pair", json={"code": code}).json()["token"]
        assert http.get(f"/api/v1/events/{event.slug}/kiosk/sync", headers=_auth(paired)).status_code == 200
        with opened(settings) as db:
            db.write_sync(revoke_kiosk, event.id, kiosk.id, time.time())
        for headers, status in (({}, 401), (_auth(dashboard), 403), (_auth(paired), 401), (_auth("x" * 500), 401)):
            for method, path, body in ENDPOINTS:
                response = http.request(method, f"/api/v1/events/{event.slug}{path}", json=body, headers=headers)
                assert response.status_code == status, (method, path, headers)
                assert response.json()["error"] in {"unauthorized", "forbidden"}
    with opened(settings) as db:
        assert db.read_sync(lambda c: c.execute("SELECT COUNT(*) FROM scans").fetchone()[0]) == 0


JUNK: list[bytes] = [b"", b"{", b"null", b"[]", b'"text"', b"\xff\xfe", b'{"code": {"$gt": ""}, "scan_id": []}']


@pytest.mark.parametrize("path", ["/scans", "/walkins", "/kiosk/heartbeat"])
def test_junk_bodies_never_give_a_server_error(settings: Settings, event: Event, live: LiveServer, path: str) -> None:
    """Malformed JSON, wrong shapes and huge bodies get the error shape (or are harmless), never a 500."""
    token = make_token(settings, event, Role.KIOSK, "受付1")
    bodies = [
        *JUNK,
        b'{"scan_id": "' + b"x" * 100_000 + b'"}',
        b'{"registrant_id": 1e400, "scan_id": "a"}',
        b'{"registrant_id": 123456789012345678901234567890, "scan_id": "a", "name": "a", "kana": "\xe3\x82\xa2"}',
    ]
    with httpx.Client(base_url=live.url, headers={**_auth(token), "content-type": "application/json"}) as http:
        for body in bodies:
            response = http.post(f"/api/v1/events/{event.slug}{path}", content=body)
            assert response.status_code < 500, body[:40]
            assert response.status_code == 200 or "error" in response.json()
        assert http.post("/api/v1/events/nope/scans", json={"code": "x", "scan_id": "a"}).status_code == 404
        assert http.delete(f"/api/v1/events/{event.slug}/checkins/abc").status_code == 404
        assert http.delete(f"/api/v1/events/{event.slug}/checkins/{10**30}").json()["error"] == "not_checked_in"


def test_sync_over_http_is_full_then_delta_and_never_holds_codes(
    settings: Settings, event: Event, live: LiveServer
) -> None:
    """A kiosk's first sync is full, the next holds only what changed; neither contains a ticket code."""
    token = make_token(settings, event, Role.KIOSK, "受付1")
    with opened(settings) as db:
        people = register(db, event, 5)
    sync = f"/api/v1/events/{event.slug}/kiosk/sync"
    with httpx.Client(base_url=live.url, headers=_auth(token)) as http:
        full = http.get(sync)
        assert full.json()["full"] and len(full.json()["entries"]) == 5
        assert full.json()["event"] == {
            "slug": event.slug,
            "title": event.title,
            "capacity": event.capacity,
            "hall_capacity": event.capacity,
        }
        http.post(_scans(event), json={"code": code_of(people[2]), "scan_id": scan_id()})
        delta = http.get(sync, params={"since": full.json()["cursor"]})
    assert not delta.json()["full"]
    assert [r["id"] for r in delta.json()["registrants"]] == [people[2].registrant.id]
    assert delta.json()["registrants"][0]["checked_in_at"] is not None
    for response in (full, delta):
        assert all(code_of(person) not in response.text for person in people)


def test_pairing_me_and_the_heartbeat(settings: Settings, event: Event, live: LiveServer) -> None:
    """A paired kiosk knows its event and name; its heartbeat is stored."""
    with opened(settings) as db:
        _, code = db.write_sync(create_kiosk, event.id, "受付1", time.time())
    with httpx.Client(base_url=live.url) as http:
        paired = http.post("/api/v1/kiosk/pair", json={"code": code.lower()}).json()
        assert (paired["event"], paired["kiosk"]) == (event.slug, "受付1")
        assert http.post("/api/v1/kiosk/pair", json={"code": code}).json()["error"] == "pairing_code_invalid"
        me = http.get("/api/v1/me", headers=_auth(paired["token"])).json()
        assert (me["role"], me["event"], me["kiosk"]) == ("kiosk", event.slug, "受付1")
        last_scan = iso(time.time() - 5, event.tz)
        beat = {"queue_length": 3, "last_scan_at": last_scan, "direction": "out", "online": True}
        answer = http.post(f"/api/v1/events/{event.slug}/kiosk/heartbeat", json=beat, headers=_auth(paired["token"]))
        assert answer.status_code == 200 and "server_time" in answer.json()
    with opened(settings) as db:
        [kiosk] = db.read_sync(list_kiosks, event.id)
    assert (kiosk.queue_length, kiosk.exit_mode, kiosk.online(time.time())) == (3, True, True)
    assert iso(kiosk.last_scan_at, event.tz) == last_scan


def test_pairing_is_throttled_per_address(live: LiveServer) -> None:
    """Guessing pairing codes is cut off after 10 attempts a minute: 429 rate_limited with Retry-After."""
    with httpx.Client(base_url=live.url) as http:
        statuses = [http.post("/api/v1/kiosk/pair", json={"code": f"WRONG{n:03d}"}).status_code for n in range(12)]
        refused = http.post("/api/v1/kiosk/pair", json={"code": 5})
    assert statuses == [404] * 10 + [429] * 2
    assert refused.status_code == 429 and refused.json()["error"] == "rate_limited"
    assert 0 < int(refused.headers["Retry-After"]) <= 60


def test_pairing_limit_is_lifted_by_the_switch(settings: Settings, event: Event) -> None:
    """CHECKIN_RATE_LIMITS=off: a rehearsal from one address may pair as often as it likes."""
    with run_server(replace(settings, rate_limits=False)) as server, httpx.Client(base_url=server.url) as http:
        statuses = {http.post("/api/v1/kiosk/pair", json={"code": f"WRONG{n:03d}"}).status_code for n in range(15)}
    assert statuses == {404}


@pytest.mark.parametrize(
    ("query", "matches"),
    [
        ("山", 3),
        ("髙", 1),
        ("ヤ", 3),
        ("や", 3),
        ("やまだ はな", 1),
        ("ﾔﾏﾀﾞﾊﾅｺ", 1),
        ("ヤマダ　ハナコ", 1),
        ("ｒ０００", 3),
        ("HANAKO@EXAMPLE", 1),
        ("ぬ", 0),
    ],
)
def test_search_from_one_character_folds_kana_widths_and_spaces(
    settings: Settings, event: Event, live: LiveServer, query: str, matches: int
) -> None:
    """Search works from one character; kana with or without spaces, hiragana/katakana, half/full width."""
    token = make_token(settings, event, Role.KIOSK, "受付1")
    people = [
        ("山田 花子", "やまだ はなこ", "hanako"),
        ("山本 健", "ヤマモト ケン", "ken"),
        ("髙山 翔", "タカヤマ ショウ", "sho"),
    ]
    with opened(settings) as db:
        for number, (name, kana, mail) in enumerate(people, start=1):
            app = Application(name, kana, f"{mail}@example.jp", "", Mode.VENUE)
            db.write_sync(store.register, event, app, time.time(), ref_no=f"R{number:07d}")
    with httpx.Client(base_url=live.url, headers=_auth(token)) as http:
        found = http.get(f"/api/v1/events/{event.slug}/registrants", params={"q": query}).json()["registrants"]
    assert len(found) == matches
    assert all(item["checked_in_at"] is None and item["status"] == "registered" for item in found)


def test_future_scanned_at_is_adjusted_to_the_time_received(settings: Settings, event: Event, live: LiveServer) -> None:
    """A kiosk clock ahead of the server never puts a check-in in the future."""
    token = make_token(settings, event, Role.KIOSK, "受付1")
    with opened(settings) as db:
        code = code_of(register(db, event, 1)[0])
    ahead = iso(time.time() + timedelta(hours=2).total_seconds(), event.tz)
    with httpx.Client(base_url=live.url, headers=_auth(token)) as http:
        body = http.post(_scans(event), json={"code": code, "scan_id": scan_id(), "scanned_at": ahead}).json()
    assert "scanned_at_adjusted" in body["warnings"]
    assert body["first_checked_in_at"] < ahead


def test_an_organisers_login_scans_with_its_csrf_token(
    settings: Settings, event: Event, client: TestClient, organiser: str
) -> None:
    """Signed in to the admin (cookie, no token): a scan needs the session's CSRF header, then counts."""
    with opened(settings) as db:
        person = register(db, event, 1)[0]
    body = {"code": code_of(person), "scan_id": scan_id()}
    refused = client.post(_scans(event), json=body)
    assert (refused.status_code, refused.json()["error"]) == (403, "csrf_failed")
    answer = client.post(_scans(event), json=body, headers={"x-csrf-token": organiser}).json()
    assert (answer["result"], answer["first_kiosk"]) == ("ok", ORGANISER[0])
    undo = client.delete(
        f"/api/v1/events/{event.slug}/checkins/{person.registrant.id}", headers={"x-csrf-token": organiser}
    )
    assert undo.json()["result"] == "undone"


def test_waitlisted_person_is_admitted_only_by_staff_and_only_with_room(
    settings: Settings, event: Event, live: LiveServer
) -> None:
    """Over HTTP: waitlisted → admit (new scan_id) → ok; once the hall is full an admit is venue_full and the
    dashboard figures show both capacities."""
    token = make_token(settings, event, Role.KIOSK, "受付1")
    with opened(settings) as db:
        db.write_sync(update_event, event.slug, {"capacity": 1, "hall_capacity": 2}, "test", time.time())
        seated = register(db, event, 1)[0]
        waiting = [person.registrant.id for person in register(db, event, 2, start=1)]
    with httpx.Client(base_url=live.url, headers=_auth(token)) as http:
        first = http.post(_scans(event), json={"registrant_id": waiting[0], "scan_id": scan_id()}).json()
        assert (first["result"], first["in_hall"], first["hall_capacity"]) == ("waitlisted", 0, 2)
        admitted = http.post(_scans(event), json={"registrant_id": waiting[0], "scan_id": scan_id(), "admit": True})
        assert (admitted.json()["result"], admitted.json()["warnings"]) == ("ok", ["waitlisted"])
        http.post(_scans(event), json={"code": code_of(seated), "scan_id": scan_id()})
        full = http.post(_scans(event), json={"registrant_id": waiting[1], "scan_id": scan_id(), "admit": True})
        assert (full.json()["result"], full.json()["in_hall"]) == ("venue_full", 2)
        bad = http.post(_scans(event), json={"registrant_id": waiting[1], "scan_id": scan_id(), "admit": 1})
        assert (bad.status_code, bad.json()["error"]) == (422, "invalid")
    with httpx.Client(base_url=live.url, headers=_auth(make_token(settings, event, Role.DASHBOARD, "投影"))) as http:
        venue = http.get(f"/api/v1/events/{event.slug}/stats").json()["venue"]
    assert (venue["capacity"], venue["hall_capacity"], venue["registered"], venue["in_hall"]) == (1, 2, 1, 2)

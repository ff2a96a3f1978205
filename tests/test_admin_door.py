"""Check-in and undo from a registrant's page: asked first, decided by the door's rules, audited, and
shown on the dashboard at once; the audit log in words, not codes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from checkin.i18n import catalog
from checkin.models import Event, Role
from checkin.settings import Settings
from tests.conftest import make_token
from tests.test_admin import register

pytestmark = pytest.mark.both_engines

BASE = "/admin/events/sympo/registrants"
SOCKET = "/ws/events/sympo/dashboard"


def test_an_organiser_checks_someone_in_and_the_dashboard_hears_of_it(
    client: TestClient, organiser: str, settings: Settings, event: Event
) -> None:
    """GET asks first; the POST checks in (a snapshot follows at once), and the audit log names who did it."""
    person = register(client, event, 1)[0]
    here = f"{BASE}/{person['id']}"
    page = client.get(here).text
    assert f'href="{here}/checkin"' in page and f"{here}/undo" not in page
    asked = client.get(f"{here}/checkin")
    assert asked.status_code == 200 and f'action="{here}/checkin"' in asked.text
    with client.websocket_connect(f"{SOCKET}?token={make_token(settings, event, Role.DASHBOARD)}") as ws:
        assert ws.receive_json()["venue"]["checked_in"] == 0
        done = client.post(f"{here}/checkin", data={"csrf": organiser})
        assert done.status_code == 200 and "受付しました" in done.text
        while (snapshot := ws.receive_json())["venue"]["checked_in"] == 0:
            pass
    assert snapshot["venue"]["checked_in"] == 1
    assert f'href="{here}/undo"' in done.text
    assert "事務局が受付" in client.get("/admin/events/sympo/audit").text


def test_a_second_check_in_is_refused_as_at_the_door(client: TestClient, organiser: str, event: Event) -> None:
    """The door's rules decide: a person already in is told so, not counted twice."""
    here = f"{BASE}/{register(client, event, 1)[0]['id']}"
    client.post(f"{here}/checkin", data={"csrf": organiser})
    again = client.post(f"{here}/checkin", data={"csrf": organiser})
    assert "受付済みです" in again.text


def test_undo_takes_the_check_in_back(client: TestClient, organiser: str, settings: Settings, event: Event) -> None:
    """Undo asks first, then the person no longer counts; the audit log says so in words."""
    here = f"{BASE}/{register(client, event, 1)[0]['id']}"
    client.post(f"{here}/checkin", data={"csrf": organiser})
    assert client.get(f"{here}/undo").status_code == 200
    undone = client.post(f"{here}/undo", data={"csrf": organiser})
    assert "受付を取り消しました" in undone.text
    stats = client.get("/api/v1/events/sympo/stats").json()
    assert stats["venue"]["checked_in"] == 0
    audit = client.get("/admin/events/sympo/audit").text
    assert '<td data-action="checkin.undo">受付を取り消し</td>' in audit


def test_a_check_in_without_the_form_token_changes_nothing(client: TestClient, organiser: str, event: Event) -> None:
    """A forged form (no CSRF token) is refused and nobody is checked in."""
    here = f"{BASE}/{register(client, event, 1)[0]['id']}"
    assert client.post(f"{here}/checkin", data={}).status_code == 403
    assert client.get("/api/v1/events/sympo/stats").json()["venue"]["checked_in"] == 0


def test_every_audited_action_has_words() -> None:
    """Each action the code writes to the audit log is shown as words in both languages, never as its code."""
    source = "\n".join(path.read_text(encoding="utf-8") for path in Path("checkin").rglob("*.py"))
    actions = set(re.findall(r'\baudit[,(](?:[^"]|f?"[^".]*")*?"([a-z_]+\.[a-z_]+)"', source))
    assert "user.login_failed" in actions and "checkin.undo" in actions
    missing = [action for action in sorted(actions) if f"admin.audit.do.{action}" not in catalog()]
    assert missing == []

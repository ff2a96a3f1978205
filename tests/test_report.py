"""The after-event report's figures against a seeded day whose truth is known."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from checkin.models import Event, Role, iso
from checkin.settings import Settings
from checkin.storage import opened
from tests.conftest import make_token
from tests.report_seed import EXPECTED, seed_day

pytestmark = pytest.mark.both_engines

REPORT = "/api/v1/events/sympo/report"


def test_the_report_figures_match_the_seeded_truth(client: TestClient, settings: Settings, event: Event) -> None:
    """Attendance rate, venue and online breakdowns, both ways, total, no-shows and walk-ins are the truth."""
    with opened(settings) as db:
        truth = seed_day(db, event)
    headers = {"authorization": f"Bearer {make_token(settings, event, Role.ORGANISER)}"}
    body = client.get(REPORT, headers=headers).json()
    figures = body["figures"]
    assert figures["online"].pop("peak_at") == iso(truth.peak_at)
    assert figures == EXPECTED
    assert [row["ref_no"] for row in body["no_shows"]] == truth.no_show_refs
    assert [row["name"] for row in body["walk_ins"]] == truth.walk_in_names
    assert all(row["checked_in_at"] for row in body["walk_ins"])


def test_the_report_names_the_event_and_links_both_exports(
    client: TestClient, settings: Settings, event: Event
) -> None:
    """Title, times and venue of the event, and the .xlsx and CSV downloads that exist."""
    headers = {"authorization": f"Bearer {make_token(settings, event, Role.ORGANISER)}"}
    body = client.get(REPORT, headers=headers).json()
    assert body["event"]["title"] == event.title
    assert body["event"]["starts_at"] == iso(event.starts_at)
    assert body["event"]["venue_name"] == event.venue_name
    for kind, url in body["exports"].items():
        assert url.endswith(f"export.{kind}")
        download = client.get(url, headers=headers)
        assert download.status_code == 200 and download.content


def test_an_empty_event_has_no_rate_rather_than_a_division_by_zero(
    client: TestClient, settings: Settings, event: Event
) -> None:
    """Nobody registered: the rate and the minutes per viewer are absent, not an error."""
    headers = {"authorization": f"Bearer {make_token(settings, event, Role.ORGANISER)}"}
    figures = client.get(REPORT, headers=headers).json()["figures"]
    assert figures["venue"]["rate"] is None
    assert figures["online"]["minutes_per_viewer"] is None


def test_a_dashboard_token_may_not_read_the_report(client: TestClient, settings: Settings, event: Event) -> None:
    """The report lists names: a projector's token is refused."""
    headers = {"authorization": f"Bearer {make_token(settings, event, Role.DASHBOARD)}"}
    assert client.get(REPORT, headers=headers).json()["error"] == "forbidden"

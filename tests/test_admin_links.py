"""From any page of an event, the admin links to the event's screens; the projector link is made in one click."""

from __future__ import annotations

import re

from starlette.testclient import TestClient


def test_an_event_page_links_to_its_screens(client: TestClient, organiser: str) -> None:
    """Public page, kiosk set-up, dashboard, projector link and report, from the registrants tab."""
    page = client.get("/admin/events/sympo/registrants").text
    for href in (
        "/e/sympo/",
        "/admin/events/sympo/kiosks",
        "/dashboard/sympo",
        "/admin/events/sympo/tokens#projector",
        "/dashboard/sympo/report",
    ):
        assert f'href="{href}"' in page, href


def test_the_projector_link_opens_the_projector_view_with_a_dashboard_token(client: TestClient, organiser: str) -> None:
    """The tokens tab's projector button makes a dashboard token and shows its ?projector=1 link, which works."""
    made = client.post(
        "/admin/events/sympo/tokens", data={"csrf": organiser, "role": "dashboard", "label": "プロジェクター"}
    )
    link = re.search(r'class="projector-link">[^<]*(/dashboard/sympo\?projector=1#token=([^<]+))</code>', made.text)
    assert made.status_code == 201 and link is not None
    assert 'name="role" value="dashboard"' in client.get("/admin/events/sympo/tokens").text
    client.cookies.clear()  # the projector has the link, not the organiser's login
    stats = client.get("/api/v1/events/sympo/stats", headers={"authorization": f"Bearer {link.group(2)}"})
    assert stats.status_code == 200 and stats.json()["type"] == "snapshot"

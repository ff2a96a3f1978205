"""The report page in headless Chromium: it says how many anonymous viewers the per-address cap turned away."""

from __future__ import annotations

from dataclasses import replace

import pytest
from playwright.sync_api import expect
from websockets.sync.client import connect

from checkin.models import Event, Role
from checkin.settings import Settings
from tests.browser import chromium
from tests.conftest import make_token
from tests.utils import run_server

pytestmark = pytest.mark.browser


def test_the_report_shows_how_many_anonymous_viewers_were_refused(settings: Settings, event: Event) -> None:
    """One anonymous viewer per address: a second browser id is refused, and the report counts it."""
    capped = replace(settings, max_anonymous_per_address=1)
    with run_server(capped) as server, chromium() as browser:
        url = f"{server.ws_url}/ws/events/sympo/watch?anon="
        with connect(url + "a" * 20) as admitted, connect(url + "b" * 20) as refused:
            assert '"hello"' in str(admitted.recv(5))
            assert '"too_many_anonymous"' in str(refused.recv(5))
        page = browser.new_page()
        page.goto(f"{server.url}/dashboard/sympo/report#token={make_token(capped, event, Role.ORGANISER)}")
        expect(page.locator("#anonymous-refused")).to_contain_text("お断りした視聴者: 1 名")
        page.close()

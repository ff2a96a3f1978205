"""A kiosk reports in its heartbeat how many camera frames it decodes a second; the snapshot carries it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from checkin.models import Event, Role
from checkin.settings import Settings
from tests.conftest import make_token
from tests.utils import LiveServer


def _beat(http: httpx.Client, event: Event, token: str, body: dict[str, Any]) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return http.post(f"/api/v1/events/{event.slug}/kiosk/heartbeat", json=body, headers=headers)


def _kiosks(http: httpx.Client, event: Event, token: str) -> list[dict[str, Any]]:
    answer = http.get(f"/api/v1/events/{event.slug}/stats", headers={"Authorization": f"Bearer {token}"})
    return list(answer.json()["kiosks"])


def _rates(http: httpx.Client, event: Event, token: str) -> list[tuple[str, float | None]]:
    return [(kiosk["name"], kiosk["decode_fps"]) for kiosk in _kiosks(http, event, token)]


def test_the_latest_decode_rate_of_each_kiosk_is_in_the_snapshot(
    settings: Settings, event: Event, live: LiveServer
) -> None:
    """Each kiosk's last reported rate (rounded to 0.1) is in its `kiosks` entry; a beat without one clears it."""
    fast = make_token(settings, event, Role.KIOSK, "受付1")
    slow = make_token(settings, event, Role.KIOSK, "受付2")
    dashboard = make_token(settings, event, Role.DASHBOARD, "projector")
    with httpx.Client(base_url=live.url) as http:
        assert _beat(http, event, fast, {"queue_length": 0, "decode_fps": 14}).status_code == 200
        assert _beat(http, event, slow, {"queue_length": 0, "decode_fps": 2.96}).status_code == 200
        assert _rates(http, event, dashboard) == [("受付1", 14), ("受付2", 3.0)]
        assert _beat(http, event, fast, {"queue_length": 0, "decode_fps": 9.5}).status_code == 200
        assert _beat(http, event, slow, {"queue_length": 0}).status_code == 200  # its camera stopped
        assert _rates(http, event, dashboard) == [("受付1", 9.5), ("受付2", None)]


@pytest.mark.parametrize("value", ["-1", "121", '"12"', "true", "[3]", '{"fps": 3}', "1e400", "NaN"])
def test_a_bad_decode_rate_is_refused_and_changes_nothing(
    settings: Settings, event: Event, live: LiveServer, value: str
) -> None:
    """Not a number in 0–120: 422 naming the field, and the kiosk's stored health stays as it was."""
    token = make_token(settings, event, Role.KIOSK, "受付1")
    dashboard = make_token(settings, event, Role.DASHBOARD, "projector")
    with httpx.Client(base_url=live.url) as http:
        assert _beat(http, event, token, {"queue_length": 1, "decode_fps": 12}).status_code == 200
        answer = http.post(
            f"/api/v1/events/{event.slug}/kiosk/heartbeat",
            content=f'{{"queue_length": 5, "decode_fps": {value}}}',
            headers={"Authorization": f"Bearer {token}", "content-type": "application/json"},
        )
        assert answer.status_code == 422
        assert answer.json()["error"] == "invalid" and "decode_fps" in answer.json()["fields"]
        [kiosk] = _kiosks(http, event, dashboard)
    assert (kiosk["decode_fps"], kiosk["queue_length"]) == (12, 1)

"""`checkin rehearse --url`: it refuses a target whose per-address limits are on, and an event that already
has registrants (a rehearsal's fictional people must never mix with real ones)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import httpx

from checkin.models import Role
from checkin.settings import Settings
from tests.conftest import make_token, seed_event
from tests.utils import EVENT, run_server


def rehearse_url(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "checkin.cli", "rehearse", "--url", url, *args, "--registrants", "4", "--viewers", "4"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_a_target_with_limits_on_is_refused(settings: Settings) -> None:
    event = seed_event(settings)
    token = make_token(settings, event, Role.ORGANISER)
    with run_server(replace(settings, rate_limits=True)) as live:
        done = rehearse_url(live.url, "--token", token, "--event", EVENT.slug)
        figures = httpx.get(f"{live.url}/api/v1/events/{EVENT.slug}/stats", headers=bearer(token))
    assert done.returncode == 1
    assert "limits are on" in done.stderr
    assert figures.json()["venue"]["registered"] == 0  # nobody was registered


def test_an_event_with_registrants_is_refused(settings: Settings) -> None:
    event = seed_event(settings)
    token = make_token(settings, event, Role.ORGANISER)
    with run_server(replace(settings, rate_limits=False)) as live:
        person = {"name": "本物 太郎", "kana": "ホンモノ タロウ", "email": "real@example.com", "mode": "venue"}
        assert httpx.post(f"{live.url}/api/v1/events/{EVENT.slug}/registrations", json=person).status_code == 201
        done = rehearse_url(live.url, "--token", token, "--event", EVENT.slug)
        figures = httpx.get(f"{live.url}/api/v1/events/{EVENT.slug}/stats", headers=bearer(token))
    assert done.returncode == 1
    assert "already has registrants" in done.stderr
    assert figures.json()["venue"]["registered"] == 1


def test_url_needs_a_token_and_an_event() -> None:
    done = rehearse_url("http://127.0.0.1:9")
    assert done.returncode == 2
    assert "--token" in done.stderr

"""The client's address seen by per-address limits: the peer unless a trusted proxy forwarded one."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from checkin.server import uvicorn_options
from checkin.settings import Settings
from checkin.web.common import client_address
from tests.utils import serve


async def _echo_address(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    body = client_address(scope).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})


def _seen_address(settings: Settings, forwarded: str) -> str:
    with serve(_echo_address, **uvicorn_options(settings)) as live:
        return httpx.get(live.url, headers={"X-Forwarded-For": forwarded}).text


def test_forwarded_for_is_ignored_without_trusted_proxies() -> None:
    """By default nobody can choose the address a limit counts them under."""
    assert _seen_address(Settings(), "203.0.113.9") == "127.0.0.1"


def test_forwarded_for_is_believed_from_a_trusted_proxy() -> None:
    """Behind a named proxy (nginx on the same host) each client is counted under its own address."""
    assert _seen_address(replace(Settings(), trusted_proxies=("127.0.0.1",)), "203.0.113.9") == "203.0.113.9"


def test_settings_read_the_rate_limit_switch_and_proxies() -> None:
    """CHECKIN_RATE_LIMITS is on by default, off when asked; proxies are a comma-separated list."""
    assert Settings.from_env({}).rate_limits is True
    assert Settings.from_env({"CHECKIN_RATE_LIMITS": "off"}).rate_limits is False
    assert Settings.from_env({}).trusted_proxies == ()
    proxies = Settings.from_env({"CHECKIN_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8"}).trusted_proxies
    assert proxies == ("127.0.0.1", "10.0.0.0/8")


def test_a_misspelt_switch_is_refused() -> None:
    """A value that is neither on nor off stops the server rather than guessing."""
    with pytest.raises(ValueError, match="CHECKIN_RATE_LIMITS"):
        Settings.from_env({"CHECKIN_RATE_LIMITS": "maybe"})

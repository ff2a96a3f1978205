"""`uvicorn --factory` runs the app with uvicorn's own websocket protocol: websockets are refused, not
served without the bounds on frames, reading and buffering (HTTP pages still work)."""

from __future__ import annotations

import logging

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from checkin.app import create_app
from checkin.models import Event
from checkin.settings import Settings
from tests.utils import serve


async def test_a_watch_socket_on_uvicorns_own_protocol_is_refused_and_said(
    settings: Settings, event: Event, caplog: pytest.LogCaptureFixture
) -> None:
    """The page works; the socket is refused and the log says to use `checkin serve`."""
    with caplog.at_level(logging.ERROR, "checkin"), serve(create_app(settings), ws="websockets") as live:
        assert httpx.get(f"{live.url}/e/{event.slug}/").status_code == 200
        with pytest.raises(InvalidStatus):
            async with connect(f"{live.ws_url}/ws/events/{event.slug}/watch?anon=a1b2c3d4e5f6a7b8"):
                pass
    assert any("checkin serve" in record.getMessage() for record in caplog.records)

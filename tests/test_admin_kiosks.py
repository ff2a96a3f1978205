"""The admin's kiosks page: a named kiosk, its one-time pairing code (text and QR), a new code, revocation."""

from __future__ import annotations

import base64
import re

import pytest
from starlette.testclient import TestClient

pytestmark = pytest.mark.both_engines

KIOSKS = "/admin/events/sympo/kiosks"


def _create(client: TestClient, csrf: str, name: str) -> tuple[int, str, str]:
    """Create a kiosk through the page: status, pairing code, page."""
    response = client.post(KIOSKS, data={"csrf": csrf, "kiosk_name": name})
    found = re.search(r'<p class="pairing-code"><code>(\w{4}) (\w{4})</code>', response.text)
    return response.status_code, "".join(found.groups()) if found else "", response.text


def _pair(client: TestClient, code: str) -> str | None:
    response = client.post("/api/v1/kiosk/pair", json={"code": code})
    return response.json()["token"] if response.status_code == 200 else None


def test_new_kiosk_shows_a_pairing_code_and_qr_that_pair(client: TestClient, organiser: str) -> None:
    """The code (and a QR of the kiosk URL with it) pairs a tablet once; the kiosk token then works."""
    status, code, page = _create(client, organiser, "受付1")
    assert status == 201 and len(code) == 8
    assert f"/kiosk#pair={code}" in page
    qr = re.search(r'src="data:image/png;base64,([^"]+)"', page)
    assert qr is not None and base64.b64decode(qr.group(1)).startswith(b"\x89PNG")
    token = _pair(client, code)
    assert token is not None and _pair(client, code) is None
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert (me["role"], me["name"], me["event"]) == ("kiosk", "受付1", "sympo")
    listing = client.get(KIOSKS).text
    assert "受付1" in listing and code not in listing
    assert "kiosk.create" in client.get("/admin/events/sympo/audit").text


def test_kiosk_names_are_checked(client: TestClient, organiser: str) -> None:
    """An empty or overlong name, or one in use, re-renders the form with a message."""
    assert _create(client, organiser, " ")[0] == 422
    assert _create(client, organiser, "x" * 51)[0] == 422
    assert _create(client, organiser, "受付1")[0] == 201
    status, _, page = _create(client, organiser, "受付1")
    assert status == 409 and "この名前の受付端末はすでにあります" in page


def test_new_code_replaces_the_tablet_and_revoke_stops_the_kiosk(client: TestClient, organiser: str) -> None:
    """A new code (asked first) makes the old tablet stop once used; revoking stops the kiosk at once."""
    _, code, _ = _create(client, organiser, "受付2")
    old = _pair(client, code)
    kiosk_id = re.search(r"/kiosks/(\d+)/pairing", client.get(KIOSKS).text)
    assert kiosk_id is not None
    url = f"{KIOSKS}/{kiosk_id.group(1)}"
    assert "新しい接続コードを発行しますか" in client.get(f"{url}/pairing").text
    fresh = re.search(
        r'<p class="pairing-code"><code>(\w{4}) (\w{4})</code>',
        client.post(f"{url}/pairing", data={"csrf": organiser}).text,
    )
    assert fresh is not None
    new = _pair(client, "".join(fresh.groups()))
    assert new is not None
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {old}"}).status_code == 401
    assert "受付端末を無効にしますか" in client.get(f"{url}/revoke").text
    done = client.post(f"{url}/revoke", data={"csrf": organiser})
    assert "受付端末を無効にしました" in done.text
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {new}"}).status_code == 401
    assert client.get(f"{KIOSKS}/999/revoke").status_code == 404

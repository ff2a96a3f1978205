"""The kiosk app's static files at /kiosk/."""

from __future__ import annotations

import re
from pathlib import Path

from starlette.testclient import TestClient


def test_kiosk_without_slash_redirects_to_the_app(client: TestClient) -> None:
    """`/kiosk` sends the browser to `/kiosk/`, keeping the method (and the #fragment, which stays in the browser)."""
    response = client.get("/kiosk", follow_redirects=False)
    assert response.status_code == 308
    assert response.headers["location"] == "/kiosk/"


def test_kiosk_page_and_files_are_revalidated_on_every_load(client: TestClient) -> None:
    """The page, its modules and the service worker are served with no-cache, so a kiosk gets updates at once."""
    page = client.get("/kiosk/")
    assert page.status_code == 200
    assert 'src="app.js"' in page.text
    for path in ("/kiosk/", "/kiosk/app.js", "/kiosk/sw.js"):
        assert client.get(path).headers["cache-control"] == "no-cache"
    assert "javascript" in client.get("/kiosk/sw.js").headers["content-type"]


def test_unknown_kiosk_file_is_404(client: TestClient) -> None:
    """A missing file is a JSON 404, not the page."""
    response = client.get("/kiosk/nothing.js")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_service_worker_keeps_every_file_of_the_app() -> None:
    """Every module and stylesheet of kiosk/, and every shared module it imports, is in the service worker's
    list, so the page opens offline."""
    kiosk = Path(__file__).resolve().parent.parent / "kiosk"
    listed = set(re.findall(r'^\s+"([^"]+)",$', (kiosk / "sw.js").read_text(encoding="utf-8"), re.MULTILINE))
    files = {path.name for path in kiosk.iterdir() if path.suffix in {".js", ".css"} and path.name != "sw.js"}
    assert files <= listed
    shared = {path for file in kiosk.glob("*.js") for path in re.findall(r'from "(/static/[^"]+)"', file.read_text())}
    assert shared and shared <= listed
    decoder = {f"/static/vendor/zxing-wasm/{name}" for name in ("reader/index.js", "share.js", "zxing_reader.wasm")}
    assert {"./", *decoder} <= listed

"""`POST /csp-report`: a violation becomes one log line with no personal data; bodies and lines are bounded."""

from __future__ import annotations

import json
import logging

import pytest
from starlette.testclient import TestClient

from checkin.web import csp_report
from checkin.web.csp_report import LINES_BURST, MAX_REPORT_BYTES, blocked_source, page_kind

CODE = "CK1-ABCD-AAAAAAAAAAAAAAAAAAAAAAAAAA"
REPORT = {
    "csp-report": {
        "document-uri": f"https://checkin.example.jp/t/{CODE}?lang=en",
        "referrer": "https://mail.example.jp/inbox?user=hanako@example.jp",
        "violated-directive": "img-src",
        "effective-directive": "img-src",
        "original-policy": "default-src 'self'",
        "disposition": "enforce",
        "blocked-uri": "https://tracker.example.com/pixel.gif?email=hanako@example.jp",
        "script-sample": "hanako@example.jp",
        "status-code": 200,
    }
}


def post(client: TestClient, body: object, content_type: str = "application/csp-report") -> int:
    """Post one report as a browser does; the status."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post("/csp-report", content=data, headers={"content-type": content_type}).status_code


def csp_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == "checkin.csp"]


def test_a_report_is_logged_as_directive_origin_and_page_kind(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Ticket code, query, e-mail, sample and referrer never reach the log."""
    caplog.set_level(logging.WARNING, "checkin.csp")
    assert post(client, REPORT) == 204
    assert csp_lines(caplog) == [
        "csp violation: blocked directive=img-src source=https://tracker.example.com page=ticket"
    ]
    text = caplog.text
    assert CODE not in text and "hanako" not in text and "lang=en" not in text and "pixel" not in text


def test_bad_or_oversized_reports_are_refused(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    """Not JSON, not a report, a forged directive: 400; past 8 KiB: 413; nothing logged."""
    caplog.set_level(logging.WARNING, "checkin.csp")
    assert post(client, b"\xff not json") == 400
    assert post(client, {"type": "csp-violation"}) == 400
    assert post(client, {"csp-report": {"effective-directive": "img-src; evil=1 page=admin"}}) == 400
    big = {"csp-report": {**REPORT["csp-report"], "script-sample": "x" * MAX_REPORT_BYTES}}
    assert post(client, big) == 413
    response = client.post("/csp-report", content=b"{}")
    assert response.status_code == 400 and response.json()["error"] == "bad_request"
    assert csp_lines(caplog) == []


def test_a_flood_of_reports_is_answered_but_logged_within_the_budget(
    client: TestClient, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page reporting in a loop gets 204s; the log takes one burst (refilling is stopped here)."""
    monkeypatch.setattr(csp_report, "LINES_PER_SECOND", 0.0)
    caplog.set_level(logging.WARNING, "checkin.csp")
    statuses = {post(client, REPORT) for _ in range(int(LINES_BURST) + 20)}
    assert statuses == {204}
    assert len(csp_lines(caplog)) == LINES_BURST


@pytest.mark.parametrize(
    ("uri", "kind"),
    [
        (f"https://checkin.example.jp/t/{CODE}", "ticket"),
        (f"http://127.0.0.1:8000/w/{CODE}?x=1", "watch"),
        ("https://checkin.example.jp/e/sympo/", "event"),
        ("https://checkin.example.jp/admin?lang=en", "admin"),
        ("https://checkin.example.jp/kiosk/", "kiosk"),
        ("https://checkin.example.jp/dashboard/sympo", "dashboard"),
        ("https://checkin.example.jp/", "other"),
        (None, "other"),
    ],
)
def test_page_kind_names_the_page_never_its_path(uri: object, kind: str) -> None:
    assert page_kind(uri) == kind


@pytest.mark.parametrize(
    ("uri", "source"),
    [
        ("inline", "inline"),
        ("eval", "eval"),
        ("wasm-eval", "wasm-eval"),
        ("blob:https://checkin.example.jp/0b5c", "blob"),
        ("data:image/png;base64,AAAA", "data"),
        ("https://cdn.example.jp:8443/live/x.ts?t=1", "https://cdn.example.jp:8443"),
        ("https://evil.example/;script-src", "https://evil.example"),
        ("chrome-extension://abc/x.js", "other"),
        ("", "unknown"),
        (42, "unknown"),
    ],
)
def test_blocked_source_keeps_only_a_keyword_or_an_origin(uri: object, source: str) -> None:
    assert blocked_source(uri) == source

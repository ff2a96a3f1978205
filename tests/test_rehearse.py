"""`checkin rehearse` end to end: 300 registrants and 300 viewers, the server killed -9 in the middle of the
rush and a kiosk offline, every figure checked against the rehearsal's own truth."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# The day takes about three minutes at this speed; the timeout only catches a hang.
SPEED = "54"
HANG = 600


@pytest.mark.slow
def test_rehearsal_with_kill_and_offline_kiosk(tmp_path: Path) -> None:
    summary = tmp_path / "summary.json"
    args = ["--registrants", "300", "--viewers", "300", "--speed", SPEED, "--faults", "kill,offline"]
    done = subprocess.run(
        [sys.executable, "-m", "checkin.cli", "rehearse", *args, "--lang", "en", "--json", str(summary)],
        capture_output=True,
        text=True,
        timeout=HANG,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    result = json.loads(summary.read_text())
    assert result["ok"] is True
    figures = {row["figure"]: row for row in result["figures"]}
    for name in ("checked_in", "in_hall", "online_now", "peak", "unique", "attended"):
        sources = figures[name]["observed"]
        assert {"dashboard", "stats", "report"} <= set(sources), name
        assert figures[name]["ok"], figures[name]
    assert set(figures["checked_in"]["observed"]) >= {"csv", "xlsx"}
    assert figures["checked_in"]["expected"] > 200
    counts = result["counts"]
    assert counts["killed"] == 1
    assert counts["queued_offline"] > 0 and counts["offline_uploaded"] == counts["queued_offline"]
    assert result["problems"] == [] and result["people_differences"] == []
    assert "PASS" in done.stdout

"""`checkin rehearse` end to end: 300 registrants and 300 viewers, the server killed -9 in the middle of the
rush and a kiosk offline, every figure checked against the rehearsal's own truth."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# The day takes about three minutes at this speed; the timeout only catches a hang.
SPEED = "54"
HANG = 600


def rehearse(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """Run `checkin rehearse` with these options; its process and its --json summary."""
    summary = tmp_path / "summary.json"
    done = subprocess.run(
        [sys.executable, "-m", "checkin.cli", "rehearse", *args, "--lang", "en", "--json", str(summary)],
        capture_output=True,
        text=True,
        timeout=HANG,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    return done, json.loads(summary.read_text())


@pytest.mark.slow
def test_rehearsal_with_kill_and_offline_kiosk(tmp_path: Path) -> None:
    args = ["--registrants", "300", "--viewers", "300", "--speed", SPEED, "--faults", "kill,offline"]
    done, result = rehearse(tmp_path, *args)
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


@pytest.mark.slow
def test_viewers_over_several_processes_are_counted_once(tmp_path: Path) -> None:
    """A short day with the viewers spread over two processes: their parts of the truth are merged."""
    args = ["--registrants", "40", "--viewers", "60", "--speed", "120", "--kiosks", "2", "--dashboards", "3"]
    _, result = rehearse(tmp_path, *args, "--processes", "2", "--faults", "kill")
    figures = {row["figure"]: row for row in result["figures"]}
    assert result["ok"] is True and result["options"]["processes"] == 2
    assert figures["unique"]["expected"] == 63  # 60 online registrants and 3 venue no-shows
    assert result["counts"]["viewers_joined"] == 63 and result["counts"]["killed"] == 1

"""`make run` serves the demo on the port asked for (PORT=, 8000 by default)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def planned(*args: str) -> str:
    """What `make run` would run (make -n: nothing is run)."""
    command = ["make", "--no-print-directory", "-n", "run", *args]
    # Run from `make test`, the outer make's flags and level would reach this one: start clean.
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MAKELEVEL", "MFLAGS"}}
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True, env=env)
    return result.stdout.strip().splitlines()[-1]


def test_make_run_takes_a_port() -> None:
    """PORT=9123 reaches `checkin serve`."""
    assert planned("PORT=9123").endswith("checkin serve --demo --port 9123")


def test_make_run_defaults_to_port_8000() -> None:
    """Without PORT, the demo is on 8000 as the README says."""
    assert planned().endswith("checkin serve --demo --port 8000")

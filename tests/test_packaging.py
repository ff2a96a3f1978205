"""A wheel built from the repository serves every page when installed in a fresh venv (no repository)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.utils import free_port

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel (and its dependencies) installed; its `checkin` command."""
    work = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(work), str(REPO)],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = work.glob("checkin-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], check=True, capture_output=True)
    return venv / "bin" / "checkin"


@contextlib.contextmanager
def serving(checkin: Path, folder: Path) -> Iterator[str]:
    """`checkin serve --demo` from the installed package, run away from the repository."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHECKIN_")}
    env.update({"CHECKIN_DB": str(folder / "demo.db"), "CHECKIN_DEMO_CSV": str(folder / "none.csv")})
    proc = subprocess.Popen(
        [str(checkin), "serve", "--demo", "--port", str(port)],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/healthz").status_code == 200:
                    break
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_an_installed_wheel_serves_every_page(installed: Path, tmp_path: Path) -> None:
    """Public page, kiosk and its worker and decoder, dashboard, static files: all there, none from the repository."""
    with serving(installed, tmp_path) as url:
        event_page = httpx.get(f"{url}/e/telework2023/")
        assert event_page.status_code == 200
        assert "働く、を変える" in event_page.text
        for path in (
            "/kiosk",
            "/kiosk/app.js",
            "/kiosk/qrworker.js",
            "/kiosk/sw.js",
            "/dashboard/telework2023",
            "/static/dashboard/view.js",
            "/static/vendor/uplot/uPlot.esm.js",
            "/static/vendor/hls/hls.min.js",
            "/admin/login",
        ):
            assert httpx.get(url + path, follow_redirects=True).status_code == 200, path
        wasm = [
            line.split()[-1] for line in (REPO / "static/vendor/SHA256SUMS").read_text().splitlines() if ".wasm" in line
        ]
        assert wasm, "the decoder's .wasm is vendored"
        for name in wasm:
            answer = httpx.get(f"{url}/static/vendor/{name}")
            assert answer.status_code == 200 and answer.headers["content-type"] == "application/wasm", name


def test_every_package_is_listed_for_the_wheel() -> None:
    """A new subpackage of checkin/ must be named in pyproject.toml, or the wheel would lack it."""
    import tomllib

    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(path.parent.relative_to(REPO).parts) for path in (REPO / "checkin").rglob("__init__.py")}
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"

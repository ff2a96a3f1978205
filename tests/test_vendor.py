"""The vendored browser libraries are exactly the recorded files: scripts/vendor.sh --check, without network."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from starlette.testclient import TestClient

ROOT = Path(__file__).resolve().parent.parent
# npm pointed at a closed port: if the check touched the network, it would fail.
OFFLINE = {**os.environ, "npm_config_registry": "http://127.0.0.1:9/", "npm_config_offline": "true"}


def check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(root / "scripts" / "vendor.sh"), "--check"], capture_output=True, text=True, env=OFFLINE, timeout=60
    )


def test_the_vendored_files_match_their_recorded_checksums() -> None:
    """Every file under static/vendor is listed in SHA256SUMS with its hash, the decoder's .wasm included."""
    result = check(ROOT)
    assert result.returncode == 0, result.stderr
    listed = (ROOT / "static" / "vendor" / "SHA256SUMS").read_text(encoding="utf-8")
    assert "zxing-wasm/zxing_reader.wasm" in listed and "zxing-wasm/LICENSE" in listed
    assert "jsqr" not in listed
    tests_listed = (ROOT / "tests" / "vendor" / "SHA256SUMS").read_text(encoding="utf-8")
    assert "axe-core/axe.min.js" in tests_listed and "axe-core/LICENSE" in tests_listed
    assert "tests/vendor: 4 files match" in result.stdout


def test_a_changed_missing_or_extra_file_fails_the_check(tmp_path: Path) -> None:
    """One byte changed, a file gone, or a file nobody recorded: the check fails and names it."""
    copy = tmp_path / "repo"
    (copy / "scripts").mkdir(parents=True)
    shutil.copy2(ROOT / "scripts" / "vendor.sh", copy / "scripts")
    shutil.copytree(ROOT / "static" / "vendor", copy / "static" / "vendor")
    shutil.copytree(ROOT / "tests" / "vendor", copy / "tests" / "vendor")
    vendor = copy / "static" / "vendor"
    assert check(copy).returncode == 0
    wasm = vendor / "zxing-wasm" / "zxing_reader.wasm"
    original = wasm.read_bytes()
    wasm.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    changed = check(copy)
    assert changed.returncode == 1 and "zxing_reader.wasm" in changed.stderr
    wasm.write_bytes(original)
    (vendor / "uplot" / "uPlot.min.css").unlink()
    missing = check(copy)
    assert missing.returncode == 1 and "uPlot.min.css" in missing.stderr
    shutil.copy2(ROOT / "static" / "vendor" / "uplot" / "uPlot.min.css", vendor / "uplot")
    (vendor / "hls" / "extra.js").write_text("alert(1)", encoding="utf-8")
    extra = check(copy)
    assert extra.returncode == 1 and "extra.js" in extra.stderr
    (vendor / "hls" / "extra.js").unlink()
    axe = copy / "tests" / "vendor" / "axe-core" / "axe.min.js"
    axe.write_text(axe.read_text(encoding="utf-8") + ";", encoding="utf-8")
    test_only = check(copy)
    assert test_only.returncode == 1 and "axe.min.js" in test_only.stderr


def test_the_decoder_files_are_served_with_types_a_browser_accepts(client: TestClient) -> None:
    """The .wasm as application/wasm (streaming compilation needs it), the library as JavaScript."""
    wasm = client.get("/static/vendor/zxing-wasm/zxing_reader.wasm")
    assert wasm.status_code == 200 and wasm.headers["content-type"] == "application/wasm"
    assert wasm.content == (ROOT / "static" / "vendor" / "zxing-wasm" / "zxing_reader.wasm").read_bytes()
    for path in ("reader/index.js", "share.js"):
        assert "javascript" in client.get(f"/static/vendor/zxing-wasm/{path}").headers["content-type"]
    assert client.get("/static/vendor/jsqr/jsQR.js").status_code == 404

"""The kiosk's QR decoder on degraded camera frames: read rate and time per frame, ZXing-C++ beside jsQR.

Frames are the test corpus (tests/qr_corpus.py): the six hard tickets and 42 mixed degradations, all
640×480. ZXing-C++ (WebAssembly) runs in the kiosk's own worker, served by a real `checkin serve`;
time per frame is the worker's own decode time, and the round trip from the page (frame posted →
answer) beside it. jsQR 1.4.0, the decoder the kiosk used before, runs in the same page on the same
RGBA pixels with the options the kiosk gave it; it is fetched from the npm registry into a temporary
directory for the run (with `npm pack`), so nothing in the repository ships or serves it. Without
npm, only ZXing-C++ is measured. Several runs; medians.
"""

from __future__ import annotations

import subprocess
import tarfile
import tempfile
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from bench.common import machine, median, server
from tests.browser import CHROMIUM, CHROMIUM_ARGS
from tests.qr_corpus import corpus
from tests.qr_decoding import decode, grey64, start_worker

RUNS = 5
JSQR = "jsqr@1.4.0"
# jsQR as the kiosk called it (both polarities), timed in the page on the same pixels as the worker gets.
JSQR_DECODE = """([grey, width, height]) => {
  const pixels = window.__rgba(grey);
  const started = performance.now();
  const found = jsQR(pixels, width, height, { inversionAttempts: "attemptBoth" });
  return [found ? found.data : null, performance.now() - started];
}"""


def fetch_jsqr(directory: Path) -> str | None:
    """jsQR's browser build from the npm registry, or None when npm cannot get it."""
    try:
        subprocess.run(["npm", "pack", "--silent", JSQR], cwd=directory, check=True, capture_output=True, timeout=120)
    except (OSError, subprocess.SubprocessError):
        return None
    [tarball] = directory.glob("*.tgz")
    with tarfile.open(tarball) as archive:
        member = archive.extractfile("package/dist/jsQR.js")
        return member.read().decode("utf-8") if member else None


Frame = tuple[str, str, int, int]  # ticket code, grey levels (base64), width, height


def one_run(page: Page, frames: list[Frame], with_jsqr: bool) -> dict[str, tuple[int, float, float]]:
    """(frames read, median ms per frame, median round trip ms) per decoder, over `frames`."""
    results: dict[str, tuple[int, float, float]] = {}
    read, times, trips = 0, [], []
    for code, grey, width, height in frames:
        answer = page.evaluate("([g, w, h]) => window.__decode(g, w, h)", [grey, width, height])
        read += answer["text"] == code
        times.append(float(answer["ms"]))
        trips.append(float(answer["roundTrip"]))
    results["zxing-wasm"] = (read, median(times), median(trips))
    if with_jsqr:
        read, times = 0, []
        for code, grey, width, height in frames:
            text, ms = page.evaluate(JSQR_DECODE, [grey, width, height])
            read += text == code
            times.append(float(ms))
        results["jsQR"] = (read, median(times), median(times))
    return results


def main() -> None:
    print(machine(), flush=True)
    hard, wider = corpus()
    sets = {
        "the six hard tickets": [(code, grey64(image), image.width, image.height) for code, image in hard],
        f"{len(wider)} mixed frames": [(code, grey64(image), image.width, image.height) for code, image in wider],
    }
    with tempfile.TemporaryDirectory() as tmp:
        jsqr = fetch_jsqr(Path(tmp))
        if jsqr is None:
            print(f"npm could not fetch {JSQR}: ZXing-C++ only", flush=True)
        with server(Path(tmp) / "bench.db") as url, sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()
                page.goto(f"{url}/healthz")
                start_worker(page)
                if jsqr:
                    page.add_script_tag(content=jsqr)
                decode(page, hard[0][1])  # the first call compiles the WebAssembly module
                for label, frames in sets.items():
                    runs = [one_run(page, frames, jsqr is not None) for _ in range(RUNS)]
                    for name in runs[0]:
                        reads = [run[name][0] for run in runs]
                        per_frame = [run[name][1] for run in runs]
                        trip = [run[name][2] for run in runs]
                        print(
                            f"{label}, {name}: read {median(reads):.0f}/{len(frames)};"
                            f" {median(per_frame):.1f} ms/frame (runs {', '.join(f'{v:.1f}' for v in per_frame)})"
                            + (f"; round trip {median(trip):.1f} ms" if name == "zxing-wasm" else ""),
                            flush=True,
                        )
            finally:
                browser.close()


if __name__ == "__main__":
    main()

"""Which degraded looks of a ticket the kiosk's decoder finds but cannot read, over many ticket codes.

The kiosk's hint test needs frames the decoder finds (`seen`) but never reads. Whether a degraded frame
is read depends on the code's pattern as well as on the look, so each look is tried on many ticket codes
of the real format (seeded, the same every run), each as its frame reaches the kiosk through Chromium's
fake camera: the y4m video's luma is taken as limited range (16–235) and stretched, which raises the
contrast of a dim code by about a sixth. The stretch is measured through the fake camera (a video of
every grey level), then applied to each frame before the kiosk's own worker decodes it. Per look: codes
read, found wider than the kiosk's "too close" share (the "further away" hint), found narrower (the
"brighter" hint), not found; and what the decoder makes of the hint test's own code.
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

from PIL import Image
from playwright.sync_api import Page, sync_playwright

from bench.common import machine, server
from tests.browser import CHROMIUM, CHROMIUM_ARGS
from tests.qr_corpus import Look, frame, seeded_code
from tests.qr_decoding import decode, start_worker
from tests.test_kiosk_browser import CAMERA_ARGS, write_y4m
from tests.test_kiosk_camera_browser import UNREAD_CODE

CODES = 300
CLOSE_SHARE = 0.55  # kiosk/camera.js: a symbol wider than this share of the frame gets "further away"
LOOKS = [
    ("the hint test's look before", Look(size=420, contrast=0.1, light=120, blur=6.0, noise=8)),
    ("between", Look(size=420, contrast=0.1, light=120, blur=6.5, noise=8)),
    ("between", Look(size=420, contrast=0.09, light=120, blur=6.5, noise=8)),
    ("harder", Look(size=420, contrast=0.08, light=120, blur=7.0, noise=8)),
    ("", Look(size=420, contrast=0.15, light=120, blur=7.0, noise=8)),
    ("the hint test's look", Look(size=420, contrast=0.2, light=120, blur=7.5, noise=8)),
    ("", Look(size=420, contrast=0.25, light=120, blur=7.0, noise=8)),
    ("the brightness hint's look", Look(size=170, contrast=0.15, light=140, blur=1.5, glare=0.5)),
]
OUTCOMES = {"R": "read", "S": "found, wide", "s": "found, narrow", ".": "not found"}
# Every grey level as a 40×30 block (16 × 16 blocks fill a 640×480 frame).
BLOCK = (40, 30)
LEVELS_READ = """async ([columns, width, height]) => {
  const asked = { width: { ideal: 1280 }, height: { ideal: 720 } }; // as the kiosk asks
  const stream = await navigator.mediaDevices.getUserMedia({ video: asked });
  const video = document.createElement("video");
  video.muted = true;
  video.srcObject = stream;
  await video.play();
  await new Promise((resolve) => video.requestVideoFrameCallback(resolve));
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(video, 0, 0);
  const { data } = context.getImageData(0, 0, canvas.width, canvas.height);
  stream.getTracks().forEach((track) => track.stop());
  const levels = [];
  for (let level = 0; level < 256; level++) {
    const x = (level % columns) * width + width / 2;
    const y = Math.floor(level / columns) * height + height / 2;
    levels.push(data[4 * (y * canvas.width + x)]);
  }
  return levels;
}"""


def grey_ramp() -> Image.Image:
    """A 640×480 frame holding every grey level, each as one flat block."""
    columns = 640 // BLOCK[0]
    ramp = Image.new("L", (640, 480))
    for level in range(256):
        x, y = (level % columns) * BLOCK[0], (level // columns) * BLOCK[1]
        ramp.paste(level, (x, y, x + BLOCK[0], y + BLOCK[1]))
    return ramp


def camera_levels(page: Page) -> list[int]:
    """What each grey level of the fake camera's video becomes on the kiosk's canvas."""
    levels: list[int] = page.evaluate(LEVELS_READ, [640 // BLOCK[0], *BLOCK])
    return levels


def outcome(page: Page, image: Image.Image) -> str:
    """R read, S found wide, s found narrow, . not found."""
    answer = decode(page, image)
    if answer["text"]:
        return "R"
    if answer["seen"] is None:
        return "."
    return "S" if answer["seen"] > CLOSE_SHARE else "s"


def main() -> None:
    print(machine(), flush=True)
    rng = random.Random("unread looks")
    codes = [seeded_code("sympo", rng) for _ in range(CODES)]
    with tempfile.TemporaryDirectory() as tmp, server(Path(tmp) / "bench.db") as url, sync_playwright() as driver:
        ramp = Path(tmp) / "ramp.y4m"
        write_y4m(ramp, [grey_ramp()] * 5)
        args = [*CHROMIUM_ARGS, *CAMERA_ARGS, f"--use-file-for-fake-video-capture={ramp}"]
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            page = browser.new_page()
            page.goto(f"{url}/healthz")
            levels = camera_levels(page)
            print(f"camera levels: 16 → {levels[16]}, 120 → {levels[120]}, 235 → {levels[235]}", flush=True)
            start_worker(page)
            print("| look | | read | found, wide | found, narrow | not found | the test's code |", flush=True)
            print("| --- | --- | --- | --- | --- | --- | --- |", flush=True)
            for label, look in LOOKS:
                marks = "".join(outcome(page, frame(code, look, 1).point(levels)) for code in codes)
                own = outcome(page, frame(UNREAD_CODE, look, 1).point(levels))
                name = f"{look.size} px, contrast {look.contrast}, blur {look.blur}, noise {look.noise}"
                counts = " | ".join(f"{marks.count(mark)} / {CODES}" for mark in OUTCOMES)
                print(f"| {name} | {label} | {counts} | {OUTCOMES[own]} |", flush=True)
        finally:
            browser.close()


if __name__ == "__main__":
    main()

"""The kiosk in headless Chromium: from the camera frame in which a ticket appears to its result on screen.

The page's camera is a canvas (its captureStream stands in for getUserMedia), so the bench knows the
exact moment a code appears: it draws a real ticket's QR image and stamps performance.now(); an
observer stamps the next animation frame after the result shows that ticket's name. Measured once
with the server answering (online) and once deciding from the synced copy (offline).
"""

from __future__ import annotations

import base64
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
from playwright.sync_api import Page, sync_playwright

from bench.common import machine, median, percentile, server
from checkin import tickets

SLUG = "benchkiosk"
TICKETS = 40  # per run; every one is a different person
ROUNDS = 3
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# The camera: a 640x480 canvas, repainted every 33 ms so its stream delivers frames like a webcam.
CAMERA = """
(() => {
  const canvas = document.createElement("canvas");
  canvas.width = 640;
  canvas.height = 480;
  const ctx = canvas.getContext("2d");
  const bench = { images: [], image: null, expected: "", shownAt: 0, latencies: [], pending: -1 };
  window.__bench = bench;
  setInterval(() => {
    ctx.fillStyle = "#ebebeb";
    ctx.fillRect(0, 0, 640, 480);
    if (bench.image) ctx.drawImage(bench.image, (640 - bench.image.width) / 2, (480 - bench.image.height) / 2);
  }, 33);
  const stream = canvas.captureStream(30);
  navigator.mediaDevices.getUserMedia = async () => stream;
  navigator.mediaDevices.enumerateDevices = async () => [{ kind: "videoinput", deviceId: "bench", label: "bench" }];
  bench.load = async (urls) => {
    bench.latencies = [];
    bench.images = await Promise.all(urls.map(async (url) => createImageBitmap(await (await fetch(url)).blob())));
  };
  bench.show = (index, name) => {
    bench.pending = index;
    bench.expected = name;
    bench.image = bench.images[index];
    ctx.drawImage(bench.image, (640 - bench.image.width) / 2, (480 - bench.image.height) / 2);
    bench.shownAt = performance.now();
  };
  bench.blank = () => { bench.image = null; };
  document.addEventListener("DOMContentLoaded", () => {
    const root = document.querySelector("#result");
    new MutationObserver(() => {
      if (root.hidden || bench.pending < 0 || !root.innerText.includes(bench.expected)) return;
      const index = bench.pending;
      bench.pending = -1;
      requestAnimationFrame(() => { bench.latencies[index] = performance.now() - bench.shownAt; });
    }).observe(root, { attributes: true, childList: true, subtree: true, characterData: true });
  });
})();
"""


def checkin_cli(db: Path, *args: str) -> str:
    """Run a `checkin` command on the bench database; its standard output."""
    command = [sys.executable, "-m", "checkin.cli", *args, "--db", str(db)]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def seed(db: Path, url: str, count: int) -> tuple[str, list[tuple[str, str]]]:
    """Registrants with tickets, and a kiosk token; returns the token and (code, name) pairs."""
    people = []
    with httpx.Client(base_url=url) as client:
        for number in range(count):
            name = f"来場 {number:03d}"
            body = {"name": name, "kana": "ライジョウ", "email": f"k{number}@example.jp", "mode": "venue"}
            answer = client.post(f"/api/v1/events/{SLUG}/registrations", json=body).json()
            people.append((answer["ticket"]["code"], name))
    token = checkin_cli(db, "token", "create", SLUG, "--role", "kiosk", "--name", "bench").strip().splitlines()[-1]
    return token, people


def data_url(code: str) -> str:
    png = tickets.render_png(code, tickets.QrOptions(box_size=8))
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def measure(page: Page, people: list[tuple[str, str]]) -> list[float]:
    """Show each ticket to the camera in turn; milliseconds from its frame to its name on screen."""
    page.evaluate("urls => window.__bench.load(urls)", [data_url(code) for code, _ in people])
    for index, (_, name) in enumerate(people):
        page.evaluate("([i, name]) => window.__bench.show(i, name)", [index, name])
        page.wait_for_function("i => window.__bench.latencies[i] !== undefined", arg=index, timeout=10_000)
        page.evaluate("window.__bench.blank()")
        page.wait_for_timeout(250)
    return [float(value) for value in page.evaluate("window.__bench.latencies")]


def report(label: str, runs: list[list[float]]) -> None:
    every = [value for run in runs for value in run]
    per_run = ", ".join(f"{median(run):.0f}" for run in runs)
    print(
        f"{label}: n={len(every)} p50={median(every):.0f} ms p95={percentile(every, 95):.0f} ms"
        f" max={max(every):.0f} ms (p50 of each run: {per_run} ms)",
        flush=True,
    )


def main() -> None:
    print(machine(), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        checkin_cli(
            db, "event", "create", SLUG, "--title", "Bench", "--starts", "2023-11-27T13:30:00+09:00",
            "--ends", "2023-11-27T16:30:00+09:00", "--capacity", "1000",
        )  # fmt: skip
        with server(db, {"CHECKIN_RATE_LIMITS": "off"}) as url, sync_playwright() as driver:  # seeded from one address
            token, people = seed(db, url, 2 * TICKETS * ROUNDS)
            browser = driver.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            online: list[list[float]] = []
            offline: list[list[float]] = []
            try:
                context = browser.new_context(viewport={"width": 1024, "height": 768})
                page = context.new_page()
                page.add_init_script(CAMERA)
                page.goto(f"{url}/kiosk#token={token}")
                page.wait_for_function(
                    "n => document.querySelector('[data-sync]')?.dataset.entries === String(n)", arg=len(people)
                )
                for round_no in range(ROUNDS):
                    batch = people[2 * TICKETS * round_no : 2 * TICKETS * (round_no + 1)]
                    online.append(measure(page, batch[:TICKETS]))
                    context.set_offline(True)
                    offline.append(measure(page, batch[TICKETS:]))
                    context.set_offline(False)
                    page.wait_for_function("() => !document.querySelector('.status [data-queue]').textContent")
            finally:
                browser.close()
    report("online (the server decides)", online)
    report("offline (the synced copy decides)", offline)


if __name__ == "__main__":
    main()

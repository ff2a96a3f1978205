"""Frames through the kiosk's own decoder worker in a real browser page (used by tests and the bench)."""

from __future__ import annotations

import base64
from typing import Any, TypedDict

from PIL import Image
from playwright.sync_api import Page

# In the page: the kiosk's worker, and a function that posts one greyscale frame to it as RGBA.
HARNESS = """() => {
  const worker = new Worker("/kiosk/qrworker.js", { type: "module" });
  const waiting = new Map();
  let next = 0;
  let failed = false;
  const broken = { text: null, seen: null, ms: 0, failed: true };
  worker.onmessage = (event) => {
    waiting.get(event.data.id)(event.data);
    waiting.delete(event.data.id);
  };
  worker.onerror = () => {  // the worker's script (or what it imports) did not load
    failed = true;
    for (const resolve of waiting.values()) resolve(broken);
    waiting.clear();
  };
  window.__rgba = (grey) => {
    const bytes = Uint8Array.from(atob(grey), (c) => c.charCodeAt(0));
    const rgba = new Uint8ClampedArray(bytes.length * 4);
    for (let i = 0; i < bytes.length; i++) {
      rgba[4 * i] = rgba[4 * i + 1] = rgba[4 * i + 2] = bytes[i];
      rgba[4 * i + 3] = 255;
    }
    return rgba;
  };
  window.__decode = (grey, width, height) => {
    if (failed) return Promise.resolve({ ...broken, roundTrip: 0 });
    const pixels = window.__rgba(grey);
    const id = next++;
    const started = performance.now();
    return new Promise((resolve) => {
      waiting.set(id, (answer) => resolve({ ...answer, roundTrip: performance.now() - started }));
      worker.postMessage({ id, width, height, buffer: pixels.buffer }, [pixels.buffer]);
    });
  };
}"""


class Answer(TypedDict):
    """What the worker said of one frame."""

    text: str | None
    seen: float | None
    ms: float
    roundTrip: float


def grey64(image: Image.Image) -> str:
    """A frame's grey levels, base64 (what the page expands to RGBA)."""
    return base64.b64encode(image.convert("L").tobytes()).decode("ascii")


def start_worker(page: Page) -> None:
    """Load the kiosk's decoder worker in `page` (which must be on the server's origin)."""
    page.evaluate(HARNESS)


def decode(page: Page, image: Image.Image) -> Answer:
    """One frame through the kiosk's worker."""
    answer: Any = page.evaluate("([g, w, h]) => window.__decode(g, w, h)", [grey64(image), image.width, image.height])
    return Answer(text=answer["text"], seen=answer["seen"], ms=answer["ms"], roundTrip=answer["roundTrip"])

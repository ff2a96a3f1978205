"""Screenshots of every screen at the size it is used at, into docs/screenshots/, with docs/SCREENSHOTS.md.

Run `python -m tests.screenshots` (or `make screenshots`): it serves the demo event from a temporary
database, walks tests.tour.STOPS in headless Chromium and writes palette PNGs.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
from contextlib import AbstractContextManager
from pathlib import Path

from PIL import Image
from playwright.sync_api import Browser

from tests.browser import chromium
from tests.test_kiosk_browser import camera_frame, write_y4m
from tests.tour import CAMERA_ARGS, PHONE, STOPS, Stop, admin_state, demo_site, visit

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
INDEX = ROOT / "docs" / "SCREENSHOTS.md"


def compressed(png: bytes) -> bytes:
    """The screenshot as a 256-colour PNG: a tenth of the size, no visible loss on flat interface colours."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    out = io.BytesIO()
    image.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(
        out, "PNG", optimize=True
    )
    return out.getvalue()


def camera(folder: Path) -> AbstractContextManager[Browser]:
    """Chromium whose fake camera films a plain light-grey wall (its own test pattern would fill the kiosk)."""
    video = folder / "wall.y4m"
    write_y4m(video, [camera_frame(None)])
    return chromium([*CAMERA_ARGS, f"--use-file-for-fake-video-capture={video}"])


def index(stops: tuple[Stop, ...]) -> str:
    """docs/SCREENSHOTS.md: one line per screen with its address and size."""
    lines = [
        "# Screenshots",
        "",
        "Every screen at the size it is used at: phone 390×844 (public, ticket and watch pages, the whole page),",
        "tablet 1024×768 and 768×1024 (kiosk), 1440×900 (admin, dashboard, report), 1920×1080 (projector).",
        "Made from the demo event by `python -m tests.screenshots` (see README); do not edit them by hand.",
        "",
        "| Screen | Shows | Address | Size |",
        "|---|---|---|---|",
    ]
    for stop in stops:
        size = f"{stop.size[0]}×{stop.size[1]}"
        lines.append(f"| [{stop.name}](screenshots/{stop.name}.png) | {stop.what} | `{stop.path}` | {size} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write every screenshot and the index; print each file written."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=OUT, help="folder for the PNG files")
    parser.add_argument("names", nargs="*", help="only these screens (default: all)")
    args = parser.parse_args(argv)
    stops = tuple(stop for stop in STOPS if not args.names or stop.name in args.names)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder, demo_site(Path(folder)) as site, camera(Path(folder)) as browser:
        admin = admin_state(browser, site)
        for stop in stops:
            with visit(browser, site, stop, admin) as page:
                png = page.screenshot(full_page=stop.size == PHONE, animations="disabled")
            target = args.out / f"{stop.name}.png"
            target.write_bytes(compressed(png))
            print(target.relative_to(ROOT) if target.is_relative_to(ROOT) else target)
    if not args.names:
        INDEX.write_text(index(STOPS), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

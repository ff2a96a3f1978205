"""axe-core in headless Chromium on every screen of the product: no serious or critical accessibility violation.

axe is injected as a script from the page's own origin: a Playwright route answers
/static/vendor-test/axe.min.js with tests/vendor/axe-core/axe.min.js, and add_script_tag(url=...) loads it.
So every page keeps its strict Content-Security-Policy (script-src 'self', no inline script) while it is
checked; bypass_csp is never used.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Route

from tests.browser import chromium
from tests.tour import CAMERA_ARGS, STOPS, Site, Stop, admin_state, demo_site, visit

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
AXE_PATH = "/static/vendor-test/axe.min.js"
# WCAG 2.1 A and AA plus axe's best practices (landmarks, one h1, regions).
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
RUN = "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium(CAMERA_ARGS) as browser:
        yield browser


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with demo_site(tmp_path_factory.mktemp("axe")) as site:
        yield site


@pytest.fixture(scope="module")
def admin(browser: Browser, site: Site) -> dict[str, object]:
    return admin_state(browser, site)


def add_axe(page: Page) -> None:
    """Load axe into the page from its own origin (once per document), answered from the vendored file."""
    if page.evaluate("typeof axe === 'undefined'"):
        url = page.url.split("/", 3)[:3]
        page.add_script_tag(url="/".join(url) + AXE_PATH)


def serve_axe(page: Page) -> None:
    """Answer the page's requests for AXE_PATH with the vendored file, then load it into the page."""

    def fulfil(route: Route) -> None:
        route.fulfill(path=AXE, content_type="text/javascript")

    page.route(f"**{AXE_PATH}", fulfil)
    add_axe(page)


def violations(page: Page, impacts: tuple[str, ...]) -> list[str]:
    """axe's violations of these impacts on the page as it is now, one line each with the elements."""
    add_axe(page)  # again if bringing the page to its state loaded a new document (a form posted)
    results: dict[str, Any] = page.evaluate(RUN, TAGS)
    return [
        f"{v['impact']} {v['id']}: {v['help']} — " + "; ".join(" ".join(n["target"]) for n in v["nodes"][:5])
        for v in results["violations"]
        if v["impact"] in impacts
    ]


SERIOUS = ("serious", "critical")
EVERY = ("minor", "moderate", *SERIOUS)


@pytest.mark.parametrize("stop", STOPS, ids=[stop.name for stop in STOPS])
def test_no_serious_accessibility_violation(browser: Browser, site: Site, admin: dict[str, object], stop: Stop) -> None:
    """The screen, in the state named, has no serious or critical axe violation; the server's pages, the
    dashboard and the report none at all (the kiosk's panels still lack some landmarks, a moderate finding)."""
    # axe is loaded before the screen is brought to its state, so a kiosk result (shown ~2 s) is checked at once.
    with visit(browser, site, stop, admin, serve_axe) as page:
        assert violations(page, SERIOUS if stop.kiosk else EVERY) == []

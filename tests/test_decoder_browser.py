"""The kiosk's decoder worker (ZXing-C++ WebAssembly) on a corpus of degraded ticket frames, in headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, Route

from tests.browser import chromium
from tests.qr_corpus import Look, corpus, frame
from tests.qr_decoding import decode, start_worker
from tests.utils import LiveServer

pytestmark = pytest.mark.browser

# Read rates when the decoder moved to ZXing-C++ (jsQR, before, read 0 of the six and 17 of the 42).
HARD_READ = 5
WIDER_READ = 32


@pytest.fixture
def page(live: LiveServer) -> Iterator[Page]:
    """A page on the server's origin running the kiosk's worker, as the kiosk page does."""
    with chromium() as browser:
        opened = browser.new_page()
        opened.goto(f"{live.url}/healthz")
        start_worker(opened)
        yield opened


def test_the_decoder_reads_the_degraded_corpus(page: Page) -> None:
    """At least 5 of the six hard tickets (contrast 0.12-0.15, 150-230 px, blur) and 32 of the 42 mixed frames."""
    hard, wider = corpus()
    hard_read = [decode(page, image)["text"] == code for code, image in hard]
    wider_read = [decode(page, image)["text"] == code for code, image in wider]
    assert sum(hard_read) >= HARD_READ, hard_read
    assert sum(wider_read) >= WIDER_READ, wider_read


def test_a_code_in_view_but_unreadable_is_reported_with_its_size(page: Page) -> None:
    """No text, but the symbol's width as a share of the frame: small when far, large when held too close."""
    code = "CK1-SYMPO-" + "A" * 26
    far = decode(page, frame(code, Look(size=170, contrast=0.15, light=140, blur=1.5, glare=0.5)))
    near = decode(page, frame(code, Look(size=420, contrast=0.1, light=120, blur=6.0, noise=8)))
    blank = decode(page, frame(code, Look(size=200, contrast=0.0)))
    assert far["text"] is None and far["seen"] is not None and far["seen"] < 0.55
    assert near["text"] is None and near["seen"] is not None and near["seen"] > 0.55
    assert blank == {**blank, "text": None, "seen": None}


# The kiosk page's planned policy; every response gets it, the worker script's included (a worker obeys its own).
KIOSK_CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; img-src 'self' data:"


WITHOUT_WASM = KIOSK_CSP.replace(" 'wasm-unsafe-eval'", "")


@pytest.mark.parametrize(("policy", "reads"), [(KIOSK_CSP, True), (WITHOUT_WASM, False)])
def test_the_decoder_works_under_the_kiosk_content_security_policy(live: LiveServer, policy: str, reads: bool) -> None:
    """With script-src 'self' 'wasm-unsafe-eval' and worker-src 'self' it reads (nothing from a CDN, no eval, no
    blob: worker); without 'wasm-unsafe-eval' it cannot, which shows the policy was in force."""
    hard, _ = corpus()
    code, image = hard[0]
    with chromium() as browser:
        page = browser.new_page()
        requested: list[str] = []

        def with_policy(route: Route) -> None:
            requested.append(route.request.url)
            response = route.fetch()
            route.fulfill(response=response, headers={**response.headers, "content-security-policy": policy})

        page.route("**/*", with_policy)
        page.goto(f"{live.url}/kiosk/")
        start_worker(page)
        assert (decode(page, image)["text"] == code) is reads
    assert all(url.startswith(live.url) for url in requested), requested


def test_the_decoder_reads_offline_from_the_service_worker_cache(live: LiveServer) -> None:
    """Once the kiosk page has been opened, its worker, the library and the .wasm come from the cache offline."""
    hard, _ = corpus()
    code, image = hard[0]
    with chromium() as browser:
        context = browser.new_context()
        page = context.new_page()
        page.goto(f"{live.url}/kiosk/")
        page.evaluate("navigator.serviceWorker.ready")
        context.set_offline(True)
        page.reload()
        assert page.evaluate("Boolean(navigator.serviceWorker.controller)")
        start_worker(page)
        assert decode(page, image)["text"] == code

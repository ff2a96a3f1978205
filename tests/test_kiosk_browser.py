"""The reception kiosk page in headless Chromium against a real server: camera, scanner, search, offline."""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from checkin import tickets
from checkin.models import Event, Role
from checkin.settings import Settings
from checkin.storage import database_for
from checkin.storage.kiosks import create_kiosk
from checkin.storage.staff import list_tokens, revoke_token
from checkin.text import search_key
from tests.browser import launch as launch_chromium
from tests.conftest import make_token
from tests.test_text import SEARCH_KEYS
from tests.utils import LiveServer

pytestmark = pytest.mark.browser

CAMERA_ARGS = [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]
# Every result the page shows, recorded as it appears (a result hides again after ~2 s).
RECORDER = """
window.__results = [];
window.__keys = [];
addEventListener("keydown", (e) => window.__keys.push([e.key, Math.round(e.timeStamp)]), true);
document.addEventListener("DOMContentLoaded", () => {
  const root = document.querySelector("#result");
  new MutationObserver(() => {
    if (!root.hidden) window.__results.push({ result: root.dataset.result, text: root.innerText });
  }).observe(root, { attributes: true, childList: true, subtree: true, characterData: true });
});
"""


def write_y4m(path: Path, frames: list[Image.Image], fps: int = 10) -> None:
    """A raw YUV 4:2:0 video (what Chromium's fake camera plays, in a loop) from greyscale/RGB frames."""
    width, height = frames[0].size
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        for frame in frames:
            luma, blue, red = frame.convert("RGB").convert("YCbCr").split()
            out.write(b"FRAME\n")
            out.write(luma.tobytes())
            for chroma in (blue, red):
                out.write(chroma.resize((width // 2, height // 2), Image.Resampling.BOX).tobytes())


def camera_frame(code: str | None, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A light-grey frame, with the QR image of a ticket code in the middle when one is given."""
    frame = Image.new("L", size, 235)
    if code is not None:
        qr = Image.open(io.BytesIO(tickets.render_png(code, tickets.QrOptions(box_size=8)))).convert("L")
        frame.paste(qr, ((size[0] - qr.width) // 2, (size[1] - qr.height) // 2))
    return frame


def register(live: LiveServer, name: str, kana: str, email: str, mode: str = "venue") -> tuple[int, str]:
    """Register one person through the public API; their id and ticket code."""
    body = {"name": name, "kana": kana, "email": email, "organisation": "総務省", "mode": mode}
    answer = httpx.post(f"{live.url}/api/v1/events/sympo/registrations", json=body).json()
    return int(answer["registrant"]["id"]), str(answer["ticket"]["code"])


def counts(live: LiveServer, token: str) -> dict[str, int]:
    """The server's people counts (checked_in, in_hall)."""
    answer = httpx.get(f"{live.url}/api/v1/events/sympo/kiosk/sync", headers={"Authorization": f"Bearer {token}"})
    return dict(answer.json()["counts"])


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


def launch(playwright: Playwright, video: Path | None = None) -> Browser:
    """Headless Chromium with a fake camera (a y4m file when given) and no permission prompts."""
    return launch_chromium(
        playwright, [*CAMERA_ARGS, *([f"--use-file-for-fake-video-capture={video}"] if video else [])]
    )


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """One browser for the module; every test opens its own context (storage, service worker)."""
    chromium = launch(playwright)
    yield chromium
    chromium.close()


@pytest.fixture
def kiosk_token(settings: Settings, event: Event) -> str:
    return make_token(settings, event, Role.KIOSK, "受付1")


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile for one test: its own storage, IndexedDB and service worker."""
    fresh = browser.new_context(viewport={"width": 1024, "height": 768})
    yield fresh
    fresh.close()


def open_kiosk(context: BrowserContext, live: LiveServer, token: str, entries: int) -> Page:
    """The kiosk page paired by #token=, once its first sync holds `entries` tickets."""
    page = context.new_page()
    page.add_init_script(RECORDER)
    page.goto(f"{live.url}/kiosk#token={token}")
    wait_synced(page, entries)
    return page


def wait_synced(page: Page, entries: int) -> None:
    page.wait_for_function("n => document.querySelector('[data-sync]')?.dataset.entries === String(n)", arg=entries)


def wait_result(page: Page, result: str, text: str = "") -> None:
    """Until the page has shown this result with this text."""
    try:
        page.wait_for_function(
            "([result, text]) => window.__results.some(r => r.result === result && r.text.includes(text))",
            arg=[result, text],
            timeout=15_000,
        )
    except PlaywrightTimeout as exc:
        shown, keys = page.evaluate("[window.__results, window.__keys]")
        raise AssertionError(f"no {result} showing {text!r}; shown: {shown}; keys: {keys}") from exc


def wedge(page: Page, text: str) -> None:
    """What a handheld scanner does: the code typed fast, then Enter."""
    page.keyboard.type(text)
    page.keyboard.press("Enter")


def test_camera_scans_of_real_tickets_show_each_name(
    playwright: Playwright, live: LiveServer, kiosk_token: str, tmp_path: Path
) -> None:
    """Tickets held up to the camera (decoded in a worker) check their holders in and show their names."""
    first = register(live, "山田 太郎", "ヤマダ タロウ", "yamada@example.jp")
    second = register(live, "佐藤 花子", "サトウ ハナコ", "sato@example.jp")
    frames: list[Image.Image] = []
    for _, code in (first, second):
        frames += [camera_frame(None)] * 4 + [camera_frame(code)] * 8
    video = tmp_path / "tickets.y4m"
    write_y4m(video, frames)
    chromium = launch(playwright, video)
    try:
        page = open_kiosk(chromium.new_context(), live, kiosk_token, entries=2)
        wait_result(page, "ok", "山田 太郎 様")
        wait_result(page, "ok", "佐藤 花子 様")
    finally:
        chromium.close()
    assert counts(live, kiosk_token)["checked_in"] == 2


def test_scanner_typing_is_a_scan_wherever_the_focus_is(
    context: BrowserContext, live: LiveServer, kiosk_token: str
) -> None:
    """Fast keys ending in Enter are a scan even inside the search box, which keeps what was typed there."""
    _, first = register(live, "山田 太郎", "ヤマダ タロウ", "yamada@example.jp")
    _, second = register(live, "佐藤 花子", "サトウ ハナコ", "sato@example.jp")
    page = open_kiosk(context, live, kiosk_token, entries=2)
    wedge(page, first)
    wait_result(page, "ok", "ようこそ、山田 太郎 様")
    page.click("#result")
    page.click("[data-open-search]")
    page.keyboard.type("yama", delay=150)
    page.wait_for_timeout(600)
    wedge(page, second)
    wait_result(page, "ok", "ようこそ、佐藤 花子 様")
    assert page.input_value("#search input") == "yama"
    assert counts(live, kiosk_token)["checked_in"] == 2


def test_the_same_code_again_within_seconds_is_ignored_and_garbage_does_not_stop_scanning(
    context: BrowserContext, live: LiveServer, kiosk_token: str
) -> None:
    """A code sent twice gives one result; after an invalid code the next ticket still scans."""
    _, code = register(live, "山田 太郎", "ヤマダ タロウ", "yamada@example.jp")
    page = open_kiosk(context, live, kiosk_token, entries=1)
    wedge(page, "HELLO-WORLD")
    wait_result(page, "invalid", "お名前で検索してください")
    wedge(page, code)
    wedge(page, code)
    wait_result(page, "ok", "山田 太郎 様")
    page.wait_for_timeout(500)
    shown = page.evaluate("window.__results.map(r => r.result)")
    assert "already_checked_in" not in shown


def test_undo_on_the_result_takes_the_check_in_back(
    context: BrowserContext, live: LiveServer, kiosk_token: str
) -> None:
    """The undo button of an ok result undoes that check-in on the server."""
    _, code = register(live, "山田 太郎", "ヤマダ タロウ", "yamada@example.jp")
    page = open_kiosk(context, live, kiosk_token, entries=1)
    wedge(page, code)
    wait_result(page, "ok", "山田 太郎 様")
    page.click("#result [data-undo]")
    wait_result(page, "undone", "受付を取り消しました")
    assert counts(live, kiosk_token) == {"checked_in": 0, "in_hall": 0}


def test_english_switch_changes_the_words(context: BrowserContext, live: LiveServer, kiosk_token: str) -> None:
    """The language button switches the screen and the results to English, and is remembered."""
    page = open_kiosk(context, live, kiosk_token, entries=0)
    page.click("[data-lang]")
    assert page.inner_text("[data-prompt]") == "Please show your QR code"
    wedge(page, "HELLO-WORLD")
    wait_result(page, "invalid", "Not a ticket for this event")
    page.reload()
    page.wait_for_selector("[data-prompt]:has-text('Please show your QR code')")


def test_search_from_one_kana_and_check_in_from_the_list(
    context: BrowserContext, live: LiveServer, kiosk_token: str
) -> None:
    """One hiragana finds katakana readings; half-width kana too; the list checks a person in."""
    register(live, "佐藤 花子", "サトウ ハナコ", "sato@example.jp")
    register(live, "鈴木 一郎", "スズキ イチロウ", "suzuki@example.jp")
    page = open_kiosk(context, live, kiosk_token, entries=2)
    page.click("[data-open-search]")
    page.fill("#search input", "さ")
    page.wait_for_selector("#search li.registrant:has-text('佐藤 花子')")
    assert page.locator("#search li.registrant").count() == 1
    page.fill("#search input", "ｽｽﾞｷ ｲﾁﾛｳ")
    page.wait_for_selector("#search li.registrant:has-text('鈴木 一郎')")
    page.click("#search li.registrant button.pick")
    wait_result(page, "ok", "鈴木 一郎 様")
    assert counts(live, kiosk_token)["checked_in"] == 1


def test_walk_in_is_registered_and_checked_in_at_once(
    context: BrowserContext, live: LiveServer, kiosk_token: str
) -> None:
    """The walk-in form registers a person and checks them in."""
    page = open_kiosk(context, live, kiosk_token, entries=0)
    page.click("[data-open-walkin]")
    page.fill("#walkin input[name=name]", "高橋 次郎")
    page.fill("#walkin input[name=kana]", "たかはし じろう")
    page.click("#walkin button[type=submit]")
    wait_result(page, "ok", "高橋 次郎 様")
    assert page.is_hidden("#walkin")
    assert counts(live, kiosk_token) == {"checked_in": 1, "in_hall": 1}


def test_exit_mode_records_exits_and_the_hall_count(
    context: BrowserContext, live: LiveServer, kiosk_token: str
) -> None:
    """In exit mode a scan records an exit (blue) and the in-hall count goes down."""
    _, code = register(live, "山田 太郎", "ヤマダ タロウ", "yamada@example.jp")
    page = open_kiosk(context, live, kiosk_token, entries=1)
    wedge(page, code)
    wait_result(page, "ok", "山田 太郎 様")
    page.click("#result")
    page.click("[data-toggle-direction]")
    page.click("#exit-confirm button[value=yes]")
    page.wait_for_selector("body[data-direction=out]")  # the dialog's close event comes a moment later
    wedge(page, code)
    wait_result(page, "exited", "退場を記録しました")
    assert page.get_attribute("#result", "data-tone") == "exit"
    page.wait_for_selector("[data-hall]:has-text('在場者数 0')")
    assert counts(live, kiosk_token) == {"checked_in": 1, "in_hall": 0}


def test_offline_scans_are_kept_across_a_reload_and_sent_when_back(
    context: BrowserContext, live: LiveServer, kiosk_token: str
) -> None:
    """Offline, the kiosk decides from its copy and queues; the page reloads without network; the queue drains."""
    _, first = register(live, "山田 太郎", "ヤマダ タロウ", "yamada@example.jp")
    _, second = register(live, "佐藤 花子", "サトウ ハナコ", "sato@example.jp")
    page = open_kiosk(context, live, kiosk_token, entries=2)
    page.evaluate("navigator.serviceWorker.ready")
    page.context.set_offline(True)
    wedge(page, first)
    wait_result(page, "ok", "オフライン判定")
    page.wait_for_selector("[data-offline]:has-text('オフラインで受付中')")
    wedge(page, second)
    wedge(page, "CK1-ZZZZ-" + "A" * 26)
    page.wait_for_selector("[data-offline] [data-queue]:has-text('未送信 3 件')")
    page.reload()
    page.wait_for_selector("[data-offline] [data-queue]:has-text('未送信 3 件')")
    page.context.set_offline(False)
    page.wait_for_selector("#kiosk [data-offline]", state="hidden")
    page.wait_for_function("() => !document.querySelector('.status [data-queue]').textContent")
    assert counts(live, kiosk_token) == {"checked_in": 2, "in_hall": 2}


def test_unknown_ticket_offline_is_not_in_local_data_rather_than_invalid(
    context: BrowserContext, live: LiveServer, kiosk_token: str
) -> None:
    """A well-formed code missing from the synced copy says so; the server later logs it as turned away."""
    page = open_kiosk(context, live, kiosk_token, entries=0)
    _, code = register(live, "山田 太郎", "ヤマダ タロウ", "yamada@example.jp")
    page.context.set_offline(True)
    wedge(page, code)
    wait_result(page, "not_in_local_data", "お名前で検索してください")
    page.context.set_offline(False)
    page.wait_for_function("() => !document.querySelector('.status [data-queue]').textContent")
    assert counts(live, kiosk_token)["checked_in"] == 0


def test_a_revoked_kiosk_goes_back_to_pairing_and_a_pairing_code_pairs_it(
    context: BrowserContext, live: LiveServer, settings: Settings, event: Event, kiosk_token: str
) -> None:
    """A revoked token shows the pairing form with a message; a one-time code pairs the kiosk again."""
    page = open_kiosk(context, live, kiosk_token, entries=0)
    assert "token" not in page.url
    database = database_for(settings)
    database.open()
    try:
        token_id = next(t.id for t in database.read_sync(list_tokens, event.id) if t.role is Role.KIOSK)
        database.write_sync(revoke_token, token_id, time.time(), "test")
        _, pairing_code = database.write_sync(create_kiosk, event.id, "受付2", time.time())
    finally:
        database.close()
    page.reload()  # its next request (here the first of the page) is refused
    page.wait_for_selector("#pairing [data-pair-message]:has-text('無効になりました')")
    assert page.is_hidden("#kiosk")
    assert page.evaluate("localStorage.getItem('kiosk.token')") is None
    page.fill("#pairing input[name=code]", pairing_code.lower())
    page.click("#pairing button[type=submit]")
    page.wait_for_selector("#kiosk [data-kiosk-name]:has-text('受付2')")
    assert page.evaluate("localStorage.getItem('kiosk.token')") not in (None, kiosk_token)


def test_sha256_and_folding_in_the_browser_match_the_server(context: BrowserContext, live: LiveServer) -> None:
    """The kiosk's pure-JS SHA-256, WebCrypto, search folding and code check agree with Python."""
    page = context.new_page()
    page.goto(f"{live.url}/healthz")
    texts = ["", "abc", "a" * 55, "a" * 56, "a" * 63, "a" * 64, "a" * 119, "受付 テスト", "x" * 1000]
    got = page.evaluate(
        """async (texts) => {
          const sha = await import("/kiosk/sha256.js");
          return Promise.all(texts.map(async (t) => [sha.sha256HexSync(t), await sha.sha256Hex(t)]));
        }""",
        texts,
    )
    assert got == [[hashlib.sha256(t.encode()).hexdigest()] * 2 for t in texts]
    million = page.evaluate("import('/kiosk/sha256.js').then((sha) => sha.sha256HexSync('a'.repeat(1000000)))")
    assert million == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"

    words = [text for text, _ in SEARCH_KEYS]
    folded = page.evaluate("(w) => import('/kiosk/text.js').then((m) => w.map(m.searchKey))", words)
    assert folded == [search_key(word) for word in words]

    code = tickets.new_code("sympo")
    samples = [
        code,
        code.lower(),
        tickets.new_code("other"),
        code[:-1],
        code[:-1] + ("B" if code[-1] == "A" else "A"),
        "hello",
    ]
    classified = page.evaluate(
        "(s) => import('/kiosk/text.js').then((m) => s.map((c) => m.classifyCode(m.normaliseCode(c), 'sympo')))",
        samples,
    )
    expected = [tickets.classify(sample, "sympo").value for sample in samples]
    assert classified == expected


def test_search_past_the_tokens_limit_uses_the_local_copy_and_stays_online(
    context: BrowserContext, live: LiveServer, kiosk_token: str
) -> None:
    """When the server refuses a search (429: the token's limit), the kiosk answers from its own copy,
    says so, and does not show itself offline."""
    register(live, "佐藤 花子", "サトウ ハナコ", "sato@example.jp")
    page = open_kiosk(context, live, kiosk_token, entries=1)
    url = f"{live.url}/api/v1/events/sympo/registrants"
    with httpx.Client(headers={"Authorization": f"Bearer {kiosk_token}"}) as http:
        statuses = [http.get(url, params={"q": "x"}).status_code for _ in range(121)]
    assert statuses[-1] == 429
    page.click("[data-open-search]")
    page.fill("#search input", "さとう")
    page.wait_for_selector("#search li.registrant:has-text('佐藤 花子')")
    assert page.locator("[data-search-note]").is_visible()
    assert page.locator("[data-offline]").is_hidden()

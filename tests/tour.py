"""Every screen of the product, each at the size it is used at: the accessibility test and the screenshots walk it."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, Page

from checkin.demo import ensure_demo, generated_applications
from checkin.models import Event, Mode
from checkin.registration import Application
from checkin.scans import ScanRequest
from checkin.settings import Settings, SmtpSettings
from checkin.storage import Database, database_for
from checkin.storage import registrants as store
from checkin.storage.scans import Caller, record_scan
from checkin.storage.viewing import end_viewing, start_viewing
from tests.door_helpers import code_of, scan_id
from tests.utils import run_server

PHONE = (390, 844)
TABLET = (1024, 768)
TABLET_PORTRAIT = (768, 1024)
DESKTOP = (1440, 900)
PROJECTOR = (1920, 1080)
# A fake camera, granted without a prompt, so the kiosk shows its scanning screen rather than a camera error.
CAMERA_ARGS = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]


@dataclass(frozen=True)
class Site:
    """A running server with the demo event, two registrants with tickets, and staff credentials."""

    url: str
    slug: str
    venue_code: str
    online_code: str
    registrant_id: int
    organiser: tuple[str, str]
    kiosk_token: str
    dashboard_token: str


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    """These environment variables for the length of a block."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def demo_site(folder: Path) -> Iterator[Site]:
    """Serve the demo event from a fresh database in `folder` until the block ends."""
    settings = Settings(
        db_path=folder / "checkin.db",
        sqlite_synchronous="NORMAL",
        qr_workers=0,
        smtp=SmtpSettings(outbox=folder / "outbox"),
    )
    database = database_for(settings)
    database.open()
    try:
        now = time.time()
        # The demo's generated people, whatever sample file the machine has: the same pages everywhere.
        with _environment(CHECKIN_DEMO_CSV=str(folder / "no-sample.csv")):
            event, credentials = ensure_demo(database, now)
        assert credentials is not None
        tickets = [
            database.write_sync(
                store.register,
                event,
                Application("受付 花子", "ウケツケ ハナコ", f"{mode.value}@example.jp", "総務省", mode),
                now,
                enforce_open=False,
            )
            for mode in (Mode.VENUE, Mode.ONLINE)
        ]
        busy_hour(database, event, now)
    finally:
        database.close()
    codes = [registration.ticket.code for registration in tickets if registration.ticket is not None]
    with run_server(replace(settings)) as live:
        yield Site(
            url=live.url,
            slug=event.slug,
            venue_code=codes[0],
            online_code=codes[1],
            registrant_id=tickets[0].registrant.id,
            organiser=(credentials.organiser_login, credentials.organiser_password),
            kiosk_token=credentials.kiosk_token,
            dashboard_token=credentials.dashboard_token,
        )


def busy_hour(db: Database, event: Event, now: float) -> None:
    """The last hour of a door: 40 arrivals at two kiosks and a dozen online viewers, so the charts have a shape."""
    people = [
        db.write_sync(store.register, event, replace(app, email=f"hour{n}@example.jp"), now - 3600, enforce_open=False)
        for n, app in enumerate(generated_applications(80, seed=11))
    ]
    venue = [person for person in people if person.registrant.mode is Mode.VENUE][:40]
    online = [person for person in people if person.registrant.mode is Mode.ONLINE][:12]
    for number, person in enumerate(venue):
        at = now - 3600 + 3000 * (number / len(venue)) ** 0.6  # most people come early
        scan = ScanRequest(scan_id(), code=code_of(person))
        db.write_sync(record_scan, event, scan, Caller(f"受付{number % 2 + 1}"), at)
    for number, person in enumerate(online):
        key = f"r{person.registrant.id}"
        db.write_sync(start_viewing, event.id, key, person.registrant.id, now - 3000 + number * 120)
        if number % 3 == 0:
            db.write_sync(end_viewing, event.id, key, now - 900)


Prepare = Callable[[Page, Site], None]


@dataclass(frozen=True)
class Stop:
    """One screen: its name, its address (with {slug}, {venue}, {online}, {id}, {kiosk}, {dashboard}), its size."""

    name: str
    path: str
    size: tuple[int, int]
    what: str  # the state shown, for the screenshots' index
    prepare: Prepare | None = None
    admin: bool = False  # needs an organiser's login
    kiosk: bool = False

    def url(self, site: Site) -> str:
        return site.url + self.path.format(
            slug=site.slug,
            venue=site.venue_code,
            online=site.online_code,
            id=site.registrant_id,
            kiosk=site.kiosk_token,
            dashboard=site.dashboard_token,
        )


def _form_errors(page: Page, site: Site) -> None:
    page.locator("form[novalidate] button[type=submit]").click()
    page.wait_for_selector(".has-error")


def _kiosk_ready(page: Page, site: Site) -> None:
    page.wait_for_selector("#kiosk:not([hidden])")
    page.wait_for_function("() => Number(document.querySelector('[data-sync]')?.dataset.entries) > 0")


def _kiosk_result(page: Page, site: Site) -> None:
    _kiosk_ready(page, site)
    page.keyboard.type(site.venue_code)
    page.keyboard.press("Enter")
    page.wait_for_selector("#result:not([hidden])")


def _kiosk_search(page: Page, site: Site) -> None:
    _kiosk_ready(page, site)
    page.click("[data-open-search]")
    page.fill("#search input", "うけつけ")
    page.wait_for_selector("#search [data-results] li")


def _kiosk_walkin(page: Page, site: Site) -> None:
    _kiosk_ready(page, site)
    page.click("[data-open-walkin]")
    page.wait_for_selector("#walkin:not([hidden])")


def _kiosk_exit(page: Page, site: Site) -> None:
    _kiosk_ready(page, site)
    page.click("[data-toggle-direction]")
    page.click("#exit-confirm button[value=yes]")  # temporary staff are asked first
    page.wait_for_selector("body[data-direction=out]")


def _pairing(page: Page, site: Site) -> None:
    page.wait_for_selector("#pairing:not([hidden])")


def _dashboard(page: Page, site: Site) -> None:
    page.wait_for_selector("#updated:not(:empty)")


STOPS: tuple[Stop, ...] = (
    Stop("event", "/e/{slug}/", PHONE, "the event page with its registration form"),
    Stop("event-en", "/e/{slug}/?lang=en", PHONE, "the event page in English"),
    Stop(
        "event-form-errors",
        "/e/{slug}/",
        PHONE,
        "the form posted empty: error summary and each field's error",
        _form_errors,
    ),
    Stop("ticket-venue", "/t/{venue}", PHONE, "a venue ticket with its QR code"),
    Stop("ticket-online", "/t/{online}", PHONE, "an online ticket: the link to the personal watch page"),
    Stop(
        "ticket-registered", "/t/{venue}?registered=1", PHONE, "the ticket right after registering (the thank-you note)"
    ),
    Stop("cancel", "/t/{venue}/cancel", PHONE, "cancelling a registration"),
    Stop("resend", "/e/{slug}/resend", PHONE, "asking for the ticket e-mail again"),
    Stop("watch-personal", "/w/{online}", PHONE, "a registrant's own watch page"),
    Stop("watch-anonymous", "/e/{slug}/watch", PHONE, "the anonymous watch page"),
    Stop("kiosk-pairing", "/kiosk", TABLET, "a kiosk not yet paired", _pairing, kiosk=True),
    Stop(
        "kiosk-scanning",
        "/kiosk#token={kiosk}",
        TABLET,
        "the kiosk waiting for a QR code",
        _kiosk_ready,
        kiosk=True,
    ),
    Stop(
        "kiosk-scanning-portrait",
        "/kiosk#token={kiosk}",
        TABLET_PORTRAIT,
        "the same, tablet upright",
        _kiosk_ready,
        kiosk=True,
    ),
    Stop("kiosk-result", "/kiosk#token={kiosk}", TABLET, "a ticket just scanned: welcome", _kiosk_result, kiosk=True),
    Stop("kiosk-search", "/kiosk#token={kiosk}", TABLET, "search by kana", _kiosk_search, kiosk=True),
    Stop(
        "kiosk-walkin",
        "/kiosk#token={kiosk}",
        TABLET_PORTRAIT,
        "registering a walk-in, tablet upright",
        _kiosk_walkin,
        kiosk=True,
    ),
    Stop("kiosk-exit", "/kiosk#token={kiosk}", TABLET, "exit mode", _kiosk_exit, kiosk=True),
    Stop(
        "dashboard",
        "/dashboard/{slug}#token={dashboard}",
        DESKTOP,
        "the live dashboard after an hour of arrivals",
        _dashboard,
    ),
    Stop(
        "projector",
        "/dashboard/{slug}?projector=1#token={dashboard}",
        PROJECTOR,
        "the dashboard on the projector",
        _dashboard,
    ),
    Stop("report", "/dashboard/{slug}/report", DESKTOP, "the attendance report", admin=True),
    Stop("admin-login", "/admin/login", DESKTOP, "staff login"),
    Stop("admin-events", "/admin", DESKTOP, "the list of events", admin=True),
    Stop("admin-event-new", "/admin/events/new", DESKTOP, "a new event", admin=True),
    Stop("admin-event-settings", "/admin/events/{slug}/settings", DESKTOP, "an event's settings", admin=True),
    Stop("admin-registrants", "/admin/events/{slug}/registrants", DESKTOP, "registrants, searchable", admin=True),
    Stop("admin-registrant", "/admin/events/{slug}/registrants/{id}", DESKTOP, "one registrant", admin=True),
    Stop("admin-files", "/admin/events/{slug}/files", DESKTOP, "import and export", admin=True),
    Stop("admin-kiosks", "/admin/events/{slug}/kiosks", DESKTOP, "kiosks and their pairing codes", admin=True),
    Stop("admin-tokens", "/admin/events/{slug}/tokens", DESKTOP, "API tokens", admin=True),
    Stop("admin-tickets", "/admin/events/{slug}/tickets", DESKTOP, "sending the tickets", admin=True),
    Stop("admin-addresses", "/admin/events/{slug}/addresses", DESKTOP, "where registrations came from", admin=True),
    Stop("admin-audit", "/admin/events/{slug}/audit", DESKTOP, "the audit log", admin=True),
)


def admin_state(browser: Browser, site: Site) -> dict[str, object]:
    """An organiser's logged-in browser storage (cookies), by the login form."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{site.url}/admin/login")
        page.locator("input[name=login]").fill(site.organiser[0])
        page.locator("input[name=password]").fill(site.organiser[1])
        page.locator("form [type=submit]").first.click()
        page.wait_for_url("**/admin")
        return dict(context.storage_state())
    finally:
        context.close()


@contextlib.contextmanager
def visit(
    browser: Browser,
    site: Site,
    stop: Stop,
    admin: dict[str, object] | None,
    loaded: Callable[[Page], None] | None = None,
) -> Iterator[Page]:
    """A fresh context at the stop's size (logged in for admin stops), the page loaded (then `loaded` called on
    it) and brought to its state."""
    # Service workers off: the kiosk's worker would otherwise answer requests the tests route themselves.
    context: BrowserContext = browser.new_context(
        viewport={"width": stop.size[0], "height": stop.size[1]},
        service_workers="block",
        timezone_id="Asia/Tokyo",
        locale="ja-JP",
        storage_state=admin if stop.admin else None,  # type: ignore[arg-type]
    )
    try:
        page = context.new_page()
        page.goto(stop.url(site))
        if loaded is not None:
            loaded(page)
        if stop.prepare is not None:
            stop.prepare(page, site)
        yield page
    finally:
        context.close()

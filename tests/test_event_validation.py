"""One validation for events wherever they come from (command line, admin form), and renderers and
writers that stay safe even with an event an older version let through."""

from __future__ import annotations

import email.message
from dataclasses import replace
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from checkin.app import create_app
from checkin.cli import main
from checkin.errors import DeliveryError, Invalid
from checkin.eventform import is_slug, is_web_url, parse_new_event
from checkin.mailer import OutboxTransport
from checkin.purge import outbox_files
from checkin.settings import Settings
from checkin.storage import opened
from checkin.storage.events import get_event, list_events
from tests.conftest import seed_event
from tests.door_helpers import register
from tests.utils import EVENT


def _create(db: Path, slug: str, *extra: str) -> int:
    times = ["--starts", "2023-11-27T13:30+09:00", "--ends", "2023-11-27T16:30+09:00"]
    return main(["event", "create", slug, "--db", str(db), "--title", "t", *times, "--capacity", "10", *extra])


def _events(db: Path) -> list[str]:
    with opened(Settings(db_path=db)) as database:
        return [event.slug for event in database.read_sync(list_events)]


@pytest.mark.parametrize(
    "url", ["javascript:alert(document.cookie)", "JavaScript:alert(1)", "data:text/html,<script>1</script>", "//x.jp/"]
)
def test_cli_refuses_a_stream_url_that_is_not_http(
    tmp_path: Path, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`event create --stream-url` takes only http(s) addresses, as the admin form does."""
    db = tmp_path / "c.db"
    assert _create(db, "sympo", "--stream-url", url) == 1
    assert "stream_url" in capsys.readouterr().err
    assert _events(db) == []


@pytest.mark.parametrize("slug", ["../evil", "a/b", "sym po", "x", "a" * 41, "あいう", "sympo.2023"])
def test_cli_refuses_a_slug_outside_a_to_z_digits_and_hyphens(tmp_path: Path, slug: str) -> None:
    """A slug names files and URL paths: only 2-40 of a-z, 0-9 and '-' (not first)."""
    db = tmp_path / "c.db"
    assert _create(db, slug) == 1
    assert _events(db) == []


def test_cli_creates_a_valid_event_with_its_stream(tmp_path: Path) -> None:
    """A good event is created as given, with the form's defaults."""
    db = tmp_path / "c.db"
    assert _create(db, "sympo-2023", "--stream-url", "https://www.youtube.com/watch?v=abcDEF12345") == 0
    with opened(Settings(db_path=db)) as database:
        event = database.read_sync(get_event, "sympo-2023")
    assert event.stream_url == "https://www.youtube.com/watch?v=abcDEF12345"
    assert event.registration_open and event.waitlist_enabled and not event.projector_names


def test_slug_and_url_rules() -> None:
    """The shared checks: slugs and web addresses (controls and spaces are no part of a URL)."""
    assert is_slug("telework2023") and is_slug("a-b") and not is_slug("sympo\n") and not is_slug("..")
    assert is_web_url("https://example.jp/live") and is_web_url("http://127.0.0.1:9/x.mp4")
    assert not is_web_url("https://example.jp/\x00") and not is_web_url("https://exa mple.jp/")
    assert not is_web_url("javascript://example.jp/%0aalert(1)") and not is_web_url("https:")


def test_admin_form_refuses_a_javascript_stream_url() -> None:
    """The admin's creation form uses the same rules."""
    form = {"slug": "sympo", "title": "t", "starts_at": "2023-11-27T13:30", "ends_at": "2023-11-27T16:30"}
    with pytest.raises(Invalid) as caught:
        parse_new_event({**form, "capacity": "10", "stream_url": "javascript:alert(1)"})
    assert caught.value.fields == {"stream_url": "url"}


def test_watch_page_never_plays_a_javascript_url_an_old_database_holds(settings: Settings) -> None:
    """An event stored before the checks: its page shows no player rather than running the URL."""
    seed_event(settings, replace(EVENT, slug="old", stream_url="javascript:alert(document.cookie)"))
    with TestClient(create_app(settings)) as client:
        page = client.get("/e/old/watch")
    assert page.status_code == 200
    assert "javascript:" not in page.text and "<iframe" not in page.text


def test_outbox_writer_refuses_names_that_leave_its_folder(tmp_path: Path) -> None:
    """Whatever slug an event holds, the outbox writes only plain file names inside its folder."""
    outbox = tmp_path / "outbox"
    transport = OutboxTransport(outbox)
    for name in ("../evil-0000001-ticket", "/tmp/evil", "..", "a/../../b", ".hidden"):
        with pytest.raises(DeliveryError):
            transport.send(email.message.EmailMessage(), name, "a@example.jp")
    assert sorted(path.name for path in tmp_path.rglob("*")) == []
    transport.send(email.message.EmailMessage(), "sympo-0000001-ticket", "a@example.jp")
    assert [path.name for path in outbox.iterdir()] == ["sympo-0000001-ticket.eml"]


def test_tickets_send_for_an_old_bad_slug_writes_nothing_outside_the_outbox(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An event stored as `../evil` before the checks: sending its tickets stops, and no file lands outside."""
    event = seed_event(settings, replace(EVENT, slug="../evil"))
    with opened(settings) as db:
        register(db, event, 2)
    outbox = tmp_path / "box" / "outbox"
    monkeypatch.setenv("CHECKIN_DB", settings.db)
    monkeypatch.setenv("CHECKIN_OUTBOX", str(outbox))
    monkeypatch.delenv("CHECKIN_SMTP_HOST", raising=False)
    assert main(["tickets", "send", "../evil"]) == 1
    assert list(tmp_path.rglob("*.eml")) == [] and list(tmp_path.rglob("*.part")) == []
    outbox.mkdir(parents=True)
    (tmp_path / "box" / "evil-0000001-ticket.eml").write_text("not ours")
    assert outbox_files(outbox, "../evil") == ()  # and a purge never deletes outside the folder either

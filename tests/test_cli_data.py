"""The data commands: `tickets send` (resumable, once per ticket), `import`, `export`."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest

from checkin.cli import main
from checkin.cli_data import STALE_CLAIM, ProgressBar
from checkin.mailer import Outcome, Result
from checkin.models import Event, Mode
from checkin.registration import Application
from checkin.settings import Settings
from checkin.storage import Database
from checkin.storage import mail as mailstore
from checkin.storage import registrants as store
from tests.report_files import csv_table, xlsx_as_csv_table, xlsx_values
from tests.smtp import SmtpSink

pytestmark = pytest.mark.both_engines

HEADER = "受付番号,氏名,フリガナ,メールアドレス,所属,参加方法\r\n"


@pytest.fixture
def env(settings: Settings, event: Event, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The commands see the test database and outbox through the environment, as in real use."""
    monkeypatch.setenv("CHECKIN_DB", settings.db)
    monkeypatch.setenv("CHECKIN_OUTBOX", str(settings.smtp.outbox))
    monkeypatch.setenv("CHECKIN_BASE_URL", "https://checkin.example.jp")
    monkeypatch.delenv("CHECKIN_SMTP_HOST", raising=False)
    return settings


@pytest.fixture
def to_smtp(env: Settings, smtp: SmtpSink, monkeypatch: pytest.MonkeyPatch) -> SmtpSink:
    """The commands send to the real SMTP server of the `smtp` fixture."""
    monkeypatch.setenv("CHECKIN_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CHECKIN_SMTP_PORT", str(smtp.port))
    monkeypatch.setenv("CHECKIN_SMTP_SECURITY", "none")
    return smtp


def register_people(db: Database, event: Event, count: int) -> None:
    for number in range(count):
        app = Application(f"山﨑 {number}", "ヤマサキ", f"p{number}@example.jp", "", Mode.VENUE)
        db.write_sync(store.register, event, app, time.time(), ref_no=f"R{number:03d}")


def test_tickets_send_resumes_after_the_server_fails(
    db: Database, event: Event, to_smtp: SmtpSink, capsys: pytest.CaptureFixture[str]
) -> None:
    """The server dies after 3 messages: the run stops; the rerun sends the rest; nobody gets two."""
    register_people(db, event, 7)
    to_smtp.closing_after = 3
    assert main(["tickets", "send", event.slug]) == 1
    err = capsys.readouterr()
    assert "421" in err.out and "3/7" in err.err
    assert len(to_smtp.received) == 3
    to_smtp.closing_after = None
    assert main(["tickets", "send", event.slug]) == 0
    assert "7/7" not in capsys.readouterr().err  # the second run only had 4 to send
    assert sorted(to_smtp.recipients()) == [f"p{n}@example.jp" for n in range(7)]
    assert main(["tickets", "send", event.slug]) == 0
    assert "0 tickets not sent yet" in capsys.readouterr().out
    assert len(to_smtp.received) == 7


def test_refused_recipient_is_reported_and_the_run_goes_on(
    db: Database, event: Event, to_smtp: SmtpSink, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 550 for one person is listed by reference number; everyone else is sent; a rerun retries only them."""
    register_people(db, event, 4)
    to_smtp.refuse.add("p1@example.jp")
    assert main(["tickets", "send", event.slug]) == 1
    captured = capsys.readouterr()
    assert "R001" in captured.err and "550" in captured.err and "p1@example.jp" not in captured.err
    assert len(to_smtp.received) == 3
    to_smtp.refuse.clear()
    assert main(["tickets", "send", event.slug]) == 0
    assert to_smtp.recipients()[-1] == "p1@example.jp" and len(to_smtp.received) == 4


def test_dry_run_sends_nothing(db: Database, event: Event, env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    """--dry-run only counts, and says where mail would go."""
    register_people(db, event, 2)
    assert main(["tickets", "send", event.slug, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "2 tickets not sent yet" in out and "outbox" in out
    assert not env.smtp.outbox.exists()


def test_interrupted_claims_are_not_sent_unless_asked(
    db: Database, event: Event, env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """A message a dead run left unconfirmed is reported, and sent only with --retry-interrupted."""
    register_people(db, event, 2)
    item = db.read_sync(mailstore.unsent, event.id)[0]
    db.write_sync(mailstore.claim, item, "ticket", time.time() - STALE_CLAIM - 1)
    assert main(["tickets", "send", event.slug]) == 0
    assert "R000" in capsys.readouterr().out
    assert len(list(env.smtp.outbox.glob("*.eml"))) == 1
    assert main(["tickets", "send", event.slug, "--retry-interrupted"]) == 0
    assert len(list(env.smtp.outbox.glob("*.eml"))) == 2


def test_progress_bar_on_a_terminal_redraws_in_place() -> None:
    """On a terminal the bar is redrawn with \\r; failures get a line of their own."""

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    bar = ProgressBar(4, stream, width=4)
    bar.update(1, Outcome("R1", Result.SENT))
    bar.update(2, Outcome("R2", Result.FAILED, "550 no"))
    bar.finish()
    assert "\r[#   ] 1/4" in stream.getvalue() and "failed: R2: 550 no\n" in stream.getvalue()
    assert "\r[##  ] 2/4  失敗 1 failed" in stream.getvalue()


def test_import_and_export_commands(
    event: Event, env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`checkin import` reports bad rows by line and refuses; `--skip-bad-rows` imports; `export` writes the report."""
    source = tmp_path / "in.csv"
    source.write_bytes((HEADER + "R1,髙橋,,a@example.jp,,会場参加\r\nR2,,,b@example.jp,,会場参加\r\n").encode("cp932"))
    assert main(["import", event.slug, str(source)]) == 1
    captured = capsys.readouterr()
    assert "3行目: 氏名が空です / line 3: name is missing" in captured.err and "cp932" in captured.out
    assert main(["import", event.slug, str(source), "--skip-bad-rows"]) == 0
    assert "新規1件" in capsys.readouterr().out
    target = tmp_path / "out.csv"
    assert main(["export", event.slug, str(target), "--english-headers"]) == 0
    assert "wrote 1 registrants" in capsys.readouterr().out
    lines = target.read_bytes().decode("utf-8-sig").split("\r\n")
    assert lines[0].startswith("ref_no,name") and lines[1].startswith("R1,髙橋")
    assert "https://checkin.example.jp/t/CK1-" in lines[1]
    assert main(["import", "nope", str(source)]) == 1


def test_import_keeps_names_a_cp932_save_lost_and_says_which_rows(
    db: Database, event: Event, env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A CP932 file whose "?" stand for 𠮷 keeps the stored name; the output names the line, in Japanese."""
    source = tmp_path / "in.csv"
    source.write_bytes((HEADER + "R1,𠮷田 太郎,,y@example.jp,,会場参加\r\n").encode("utf-8"))
    assert main(["import", event.slug, str(source)]) == 0
    source.write_bytes((HEADER + "R1,?田 太郎,,y@example.jp,,会場参加\r\n").encode("cp932"))
    assert main(["import", event.slug, str(source)]) == 0
    out = capsys.readouterr().out
    assert "2行目: 氏名の「?」は" in out and "登録済みの値を残しました" in out and "line 2:" in out
    assert [person.name for person in db.read_sync(store.list_registrants, event.id)] == ["𠮷田 太郎"]


def test_export_writes_an_excel_workbook_by_suffix_or_format(
    event: Event, env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`export FILE.xlsx` (or `--format xlsx`) writes the workbook: the CSV's rows, read back with openpyxl."""
    source = tmp_path / "in.csv"
    source.write_bytes(
        (HEADER + "R1,=1+1,,a@example.jp,,会場参加\r\nR2,髙橋,,b@example.jp,,オンライン参加\r\n").encode()
    )
    assert main(["import", event.slug, str(source)]) == 0
    assert main(["export", event.slug, str(tmp_path / "report.csv")]) == 0
    assert main(["export", event.slug, str(tmp_path / "report.xlsx")]) == 0
    assert "wrote 2 registrants" in capsys.readouterr().out
    assert main(["export", event.slug, str(tmp_path / "report.bin"), "--format", "xlsx"]) == 0
    expected = csv_table((tmp_path / "report.csv").read_bytes())
    assert expected[1][1] == "'=1+1" and len(expected) == 3
    assert xlsx_as_csv_table((tmp_path / "report.xlsx").read_bytes()) == expected
    assert (tmp_path / "report.bin").read_bytes().startswith(b"PK")  # a zip: the workbook
    assert main(["export", event.slug, str(tmp_path / "english.xlsx"), "--english-headers"]) == 0
    assert xlsx_values((tmp_path / "english.xlsx").read_bytes())[0][:2] == ["ref_no", "name"]

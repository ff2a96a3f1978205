"""Importing registrant files into an event (all or nothing, no duplicates) and exporting the report."""

from __future__ import annotations

import csv
import io
import time
from dataclasses import replace

import pytest

from checkin.demo import sample_file
from checkin.errors import EventPurged, FileProblem
from checkin.models import Event, Status
from checkin.roster import export_report, import_csv
from checkin.settings import Settings
from checkin.storage import Database
from checkin.storage import registrants as store
from checkin.storage.viewing import WatchSummary
from checkin.writes import Writes
from tests.conftest import seed_event
from tests.report_files import csv_table, xlsx_as_csv_table
from tests.utils import EVENT

pytestmark = pytest.mark.both_engines

SAMPLES = sample_file().parent  # ../shared/data beside the repository, or where $CHECKIN_DEMO_CSV is
HEADER = "受付番号,氏名,フリガナ,メールアドレス,所属,参加方法\r\n"
NOW = 1_700_000_000.0


@pytest.fixture
def hall(settings: Settings) -> Event:
    """An event of the symposium's size: 300 seats."""
    return seed_event(settings, replace(EVENT, slug="hall", capacity=300))


def everyone(db: Database, event: Event) -> list[store.Registrant]:
    return db.read_sync(store.list_registrants, event.id)


def sample(name: str) -> bytes:
    path = SAMPLES / name
    if not path.is_file():
        pytest.skip(f"{path} is not here")
    return path.read_bytes()


@pytest.mark.parametrize("name", ["registrants-sample.csv", "registrants-sample-cp932.csv"])
async def test_sample_files_import_whole(db: Database, hall: Event, name: str) -> None:
    """Both sample files (UTF-8 with BOM, CP932) import their 500 rows; venue rows past 300 seats wait."""
    report = await import_csv(Writes(db), hall, sample(name), now=NOW)
    assert report.written and report.bad == ()
    assert report.created == 500 and report.encoding in {"utf-8-sig", "cp932"}
    people = everyone(db, hall)
    assert len(people) == 500
    venue = [p for p in people if p.mode.value == "venue"]
    assert sum(p.status is Status.REGISTERED for p in venue) == 300
    assert len(report.waitlisted) == len(venue) - 300 > 0


async def test_cp932_save_of_an_export_does_not_overwrite_names_it_could_not_hold(db: Database, hall: Event) -> None:
    """Excel's CP932 "CSV" turns 𠮷 and emoji into "?": re-importing keeps the stored values and names the rows."""
    people = (
        "R1,𠮷田 太郎,ヨシダ タロウ,r1@example.jp,🍣研究所,会場参加\r\n"
        "R2,山田 👨\u200d👩\u200d👧,ヤマダ,r2@example.jp,,会場参加\r\n"
        "R3,髙橋 﨑子,タカハシ サキコ,r3@example.jp,,会場参加\r\n"
    )
    await import_csv(Writes(db), hall, (HEADER + people).encode("utf-8-sig"), now=NOW)
    excel = people.replace("会場参加\r\nR3", "オンライン参加\r\nR3").replace("👨", "?").replace("🍣", "??")
    saved = (HEADER + excel).encode("cp932", errors="replace")  # each other character CP932 lacks: "?"
    report = await import_csv(Writes(db), hall, saved, now=NOW + 5)
    assert report.encoding == "cp932" and report.written
    assert [(kept.line, kept.fields) for kept in report.kept] == [(2, ("name", "organisation")), (3, ("name",))]
    assert (report.updated, report.unchanged) == (1, 2)  # R2's mode changed; its name did not
    found = {p.ref_no: p for p in everyone(db, hall)}
    assert (found["R1"].name, found["R1"].organisation) == ("𠮷田 太郎", "🍣研究所")
    assert (found["R2"].name, found["R2"].mode.value) == ("山田 👨\u200d👩\u200d👧", "online")
    assert report.kept[0].text("ja").startswith("2行目: 氏名、所属の「?」は")
    assert report.kept[1].text("en").startswith('line 3: the "?" in name stand for characters')


async def test_reimport_updates_and_never_duplicates(db: Database, hall: Event) -> None:
    """The same file again changes nothing; a corrected row updates the registrant matched by 受付番号 or e-mail."""
    data = sample("registrants-sample.csv")
    await import_csv(Writes(db), hall, data, now=NOW)
    again = await import_csv(Writes(db), hall, data, now=NOW + 1)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 500)
    first = everyone(db, hall)[0]
    by_ref = HEADER + f"{first.ref_no},新しい 名前,,changed@example.jp,,オンライン参加\r\n"
    by_email = "氏名,メールアドレス,参加方法\r\n" + "別の 名前,ＣＨＡＮＧＥＤ＠example.jp,オンライン参加\r\n"
    assert (await import_csv(Writes(db), hall, by_ref.encode(), now=NOW + 2)).updated == 1
    assert (await import_csv(Writes(db), hall, by_email.encode(), now=NOW + 3)).updated == 1
    people = everyone(db, hall)
    assert len(people) == 500
    assert [(p.name, p.email) for p in people if p.id == first.id] == [("別の 名前", "CHANGED@example.jp")]


async def test_cp932_file_with_a_bad_row_is_rejected_whole(db: Database, hall: Event) -> None:
    """One bad row: nothing is written, and the report names the line and the reason in both languages."""
    lines = sample("registrants-sample-cp932.csv").decode("cp932").split("\r\n")
    lines[3] = lines[3].replace("参加", "見学")  # the 参加方法 of line 4
    data = "\r\n".join(lines).encode("cp932")
    report = await import_csv(Writes(db), hall, data, now=NOW)
    assert not report.written and report.created == 0
    assert [(bad.line, bad.problems[0].reason) for bad in report.bad] == [(4, "choice")]
    assert report.bad[0].text("ja").startswith("4行目: 参加方法は")
    assert "nothing was imported" in report.summary("en")
    assert everyone(db, hall) == []
    skipped = await import_csv(Writes(db), hall, data, now=NOW, skip_bad_rows=True)
    assert skipped.written and skipped.created == 499 and len(skipped.bad) == 1
    assert "飛ばした行1件" in skipped.summary("ja")


async def test_names_survive_exactly(db: Database, hall: Event) -> None:
    """髙, 﨑 and a 100-character name come back exactly, from CP932 and from UTF-8."""
    long_name = ("寿限無五劫の擦り切れ海砂利水魚の" * 7)[:100]
    rows = [("R1", "髙橋 﨑子", "cp932"), ("R2", long_name, "utf-8"), ("R3", "山﨑　德次郎", "utf-8")]
    for ref, name, encoding in rows:
        data = (HEADER + f"{ref},{name},タカハシ,{ref}@example.jp,,会場参加\r\n").encode(encoding)
        assert (await import_csv(Writes(db), hall, data, now=NOW)).created == 1
    names = {p.ref_no: p.name for p in everyone(db, hall)}
    assert names["R1"] == "髙橋 﨑子" and names["R2"] == long_name and len(names["R2"]) == 100
    assert names["R3"].startswith("山﨑") and "德" in names["R3"]


async def test_conflicting_ref_and_email_is_a_bad_row(db: Database, hall: Event) -> None:
    """A 受付番号 of one registrant with the e-mail of another cannot be applied."""
    two = HEADER + "R1,甲,,a@example.jp,,会場参加\r\nR2,乙,,b@example.jp,,会場参加\r\n"
    await import_csv(Writes(db), hall, two.encode(), now=NOW)
    crossed = HEADER + "R1,甲,,b@example.jp,,会場参加\r\n"
    report = await import_csv(Writes(db), hall, crossed.encode(), now=NOW)
    assert not report.written and report.bad[0].problems[0].reason == "ref_conflict"


async def test_freed_seat_moves_the_waiting_list_up(db: Database, settings: Settings) -> None:
    """A re-import that moves a venue registrant online gives the seat to the first waiting person."""
    event = seed_event(settings, replace(EVENT, slug="tiny", capacity=1))
    first = HEADER + "R1,甲,,a@example.jp,,会場参加\r\nR2,乙,,b@example.jp,,会場参加\r\n"
    report = await import_csv(Writes(db), event, first.encode(), now=NOW)
    assert report.waitlisted == ("R2",)
    moved = HEADER + "R1,甲,,a@example.jp,,オンライン参加\r\n"
    report = await import_csv(Writes(db), event, moved.encode(), now=NOW + 1)
    assert report.promoted == ("R2",) and "繰り上がりました" in report.summary("ja")


async def test_full_hall_without_waiting_list_makes_bad_rows(db: Database, settings: Settings) -> None:
    """With the waiting list off, venue rows past capacity are bad rows (venue_full)."""
    event = seed_event(settings, replace(EVENT, slug="nowait", capacity=1, waitlist_enabled=False))
    data = HEADER + "R1,甲,,a@example.jp,,会場参加\r\nR2,乙,,b@example.jp,,会場参加\r\n"
    report = await import_csv(Writes(db), event, data.encode(), now=NOW)
    assert [(b.line, b.problems[0].reason) for b in report.bad] == [(3, "venue_full")]


async def test_unreadable_file_raises(db: Database, hall: Event) -> None:
    """A file without the needed columns is a FileProblem, and nothing is written."""
    with pytest.raises(FileProblem):
        await import_csv(Writes(db), hall, "名前,電話\n".encode(), now=NOW)


async def test_export_report_of_an_event(db: Database, hall: Event, monkeypatch: pytest.MonkeyPatch) -> None:
    """One row per registrant with ticket URL, JST check-in time and online minutes from watch_summary."""
    data = HEADER + "R1,=cmd|' /C calc'!A0,,a@example.jp,,会場参加\r\nR2,乙,,b@example.jp,,オンライン参加\r\n"
    await import_csv(Writes(db), hall, data.encode(), now=NOW)
    people = {p.ref_no: p for p in everyone(db, hall)}
    checked_in = 1701059100.0  # 2023-11-27 13:25 JST
    db.write_sync(
        lambda conn: conn.execute(
            "INSERT INTO attendance (registrant_id, event_id, first_checked_in_at, last_moved_at) VALUES (?, ?, ?, ?)",
            (people["R1"].id, hall.id, checked_in, checked_in),
        )
    )
    watched = {people["R2"].id: WatchSummary(seconds=95 * 60, first_join=0.0, last_leave=0.0)}
    monkeypatch.setattr("checkin.storage.roster.watch_summary", lambda conn, event_id: watched)
    out = await export_report(db, hall, base_url="https://x.example")
    workbook = await export_report(db, hall, base_url="https://x.example", file_format="xlsx")
    assert xlsx_as_csv_table(workbook) == csv_table(out)
    assert out.startswith(b"\xef\xbb\xbf")
    table = list(csv.DictReader(io.StringIO(out.decode("utf-8-sig"), newline="")))
    assert [row["受付番号"] for row in table] == ["R1", "R2"]
    assert table[0]["氏名"].startswith("'=") and table[0]["来場時刻"] == "2023-11-27 13:25:00"
    assert table[0]["参加証URL"].startswith("https://x.example/t/CK1-") and table[0]["参加"] == "1"
    assert (table[1]["オンライン視聴分"], table[1]["参加"], table[1]["参加方法"]) == ("95", "1", "オンライン参加")
    again = await import_csv(Writes(db), hall, out, now=NOW + 5)
    assert (again.unchanged, again.created) == (2, 0)


async def test_purged_event_refuses_imports(db: Database, hall: Event) -> None:
    """After a purge nothing can be imported into the event."""
    db.write_sync(lambda conn: conn.execute("UPDATE events SET purged_at = ? WHERE id = ?", (time.time(), hall.id)))
    with pytest.raises(EventPurged):
        await import_csv(Writes(db), hall, (HEADER + "R1,甲,,a@example.jp,,会場参加\r\n").encode(), now=NOW)

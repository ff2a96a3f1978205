"""The admin's import and export page: CSV upload (all or nothing, bad rows named), size limit, download."""

from __future__ import annotations

import csv
import io
import time
from dataclasses import replace

from starlette.testclient import TestClient

from checkin.app import create_app
from checkin.models import Event, to_datetime
from checkin.settings import Settings
from tests.conftest import log_in, make_user
from tests.report_files import csv_table, xlsx_as_csv_table
from tests.test_admin import register, settings_form

FILES = "/admin/events/sympo/files"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER = "受付番号,氏名,フリガナ,メールアドレス,所属,参加方法\r\n"
GOOD = (
    HEADER
    + "R001,髙橋 﨑子,タカハシ サキコ,saki@example.jp,総務省,会場参加\r\n"
    + "R002,佐藤 健,サトウ ケン,ken@example.jp,,オンライン参加\r\n"
)


def _upload(client: TestClient, csrf: str, data: bytes, skip: bool = False) -> str:
    form = {"csrf": csrf, **({"skip_bad_rows": "on"} if skip else {})}
    response = client.post(FILES, data=form, files={"file": ("list.csv", data, "text/csv")})
    return f"{response.status_code} {response.text}"


def test_import_then_reimport_updates_without_duplicates(client: TestClient, organiser: str) -> None:
    """A good file imports; the same file again changes nothing; names survive exactly."""
    first = _upload(client, organiser, GOOD.encode("utf-8-sig"))
    assert first.startswith("200") and "新規2件" in first
    again = _upload(client, organiser, GOOD.encode("utf-8-sig"))
    assert "変更なし2件" in again
    listing = client.get("/admin/events/sympo/registrants").text
    assert listing.count("髙橋 﨑子") == 1 and "佐藤 健" in listing
    assert "registrants.import" in client.get("/admin/events/sympo/audit").text


def test_cp932_reimport_keeps_what_the_encoding_lost_and_names_the_rows(client: TestClient, organiser: str) -> None:
    """Re-importing a CP932 save with "?" for 𠮷 keeps the stored name; the result names the row in Japanese."""
    assert _upload(client, organiser, (HEADER + "R1,𠮷田 太郎,,y@example.jp,,会場参加\r\n").encode()).startswith("200")
    result = _upload(client, organiser, (HEADER + "R1,?田 太郎,,y@example.jp,,会場参加\r\n").encode("cp932"))
    assert result.startswith("200") and "2行目: 氏名の「?」は" in result and "変更なし1件" in result
    listing = client.get("/admin/events/sympo/registrants").text
    assert "𠮷田 太郎" in listing and "?田" not in listing


def test_cp932_file_with_a_bad_row_is_refused_whole(client: TestClient, organiser: str) -> None:
    """A CP932 file with a bad row imports nothing and names the row; skipping bad rows imports the rest."""
    bad = GOOD + "R003,山田 太郎,ヤマダ タロウ,not-an-address,,会場参加\r\n"
    refused = _upload(client, organiser, bad.replace("髙", "高").replace("﨑", "崎").encode("cp932"))
    assert refused.startswith("422") and "4行目" in refused and "何も取り込みませんでした" in refused
    assert "該当する申込者はいません" in client.get("/admin/events/sympo/registrants").text
    skipped = _upload(client, organiser, bad.encode("utf-8"), skip=True)
    assert skipped.startswith("200") and "新規2件" in skipped and "飛ばした行1件" in skipped


def test_unreadable_missing_or_oversized_files_are_refused(settings: Settings, event: Event) -> None:
    """No file, a file without the needed columns, or one past the upload limit: a message, not a 500."""
    small = replace(settings, max_upload_bytes=2048)
    make_user(small)
    with TestClient(create_app(small)) as client:
        csrf = log_in(client)
        none = client.post(FILES, data={"csrf": csrf})
        assert none.status_code == 422 and "CSVファイルを選んでください" in none.text
        assert _upload(client, csrf, "名前,年齢\r\nx,1\r\n".encode()).startswith("422 ")
        assert "必要な列がありません" in _upload(client, csrf, "名前,年齢\r\nx,1\r\n".encode())
        huge = (GOOD + "R9,x,エックス,x@example.jp,,会場参加\r\n" * 100).encode()
        assert _upload(client, csrf, huge).startswith("413 ")


def test_import_that_frees_seats_mails_the_promoted(
    settings: Settings, client: TestClient, organiser: str, event: Event
) -> None:
    """Moving a seat holder online by import moves the first waiting person up and e-mails them."""
    client.post("/admin/events/sympo/settings", data=settings_form(event, organiser, capacity="1"))
    holder, waiting = register(client, event, 2)
    moved = f"{HEADER}{holder['ref_no']},{holder['name']},モウシコミ,{holder['email']},,オンライン参加\r\n"
    report = _upload(client, organiser, moved.encode())
    assert "キャンセル待ちから1名が繰り上がりました" in report
    assert len(list(settings.smtp.outbox.glob("*-promoted.eml"))) == 1
    assert "申込済み" in client.get(f"/admin/events/sympo/registrants/{waiting['id']}").text


def test_export_downloads_the_report_for_excel(client: TestClient, organiser: str, event: Event) -> None:
    """The download is UTF-8 with BOM, one row per registrant, Japanese or English headers; it is audited."""
    register(client, event, 3)
    response = client.get("/admin/events/sympo/export.csv")
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:2] == ["受付番号", "氏名"] and len(rows) == 4
    english = client.get("/admin/events/sympo/export.csv?headers=en").content.decode("utf-8-sig")
    assert english.startswith("ref_no,name")
    assert "registrants.export" in client.get("/admin/events/sympo/audit").text


def test_excel_workbook_download_beside_the_csv(client: TestClient, organiser: str, event: Event) -> None:
    """The files page offers the .xlsx beside the CSV; it holds the CSV's rows and both have clear names."""
    register(client, event, 3)
    page = client.get(FILES).text
    assert 'href="/admin/events/sympo/export.xlsx"' in page and 'href="/admin/events/sympo/export.csv"' in page
    workbook = client.get("/admin/events/sympo/export.xlsx")
    assert workbook.status_code == 200
    assert workbook.headers["content-type"] == XLSX
    today = to_datetime(time.time()).strftime("%Y%m%d")
    assert f'filename="sympo-attendance-{today}.xlsx"' in workbook.headers["content-disposition"]
    report = client.get("/admin/events/sympo/export.csv")
    assert f'filename="sympo-attendance-{today}.csv"' in report.headers["content-disposition"]
    assert xlsx_as_csv_table(workbook.content) == csv_table(report.content)
    english = client.get("/admin/events/sympo/export.xlsx?headers=en").content
    assert xlsx_as_csv_table(english) == csv_table(client.get("/admin/events/sympo/export.csv?headers=en").content)

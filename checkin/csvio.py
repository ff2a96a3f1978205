"""Registrant CSV files: reading what Japanese Excel and web forms save, and writing the attendance report.

Pure: bytes in, records out (and back). Reading detects UTF-8 (with or without BOM) and CP932,
takes Japanese or English headers, and checks every row, so that a file with bad rows can be refused
whole with each bad row's line number and reason. Writing gives UTF-8 with BOM and CRLF (what Excel
opens correctly) with formula-like cells neutralised.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import groupby

from checkin.errors import FileProblem, Invalid
from checkin.i18n import translate
from checkin.models import Registrant, to_datetime
from checkin.registration import Application, validate
from checkin.text import nfkc, single_line

FIELDS = ("ref_no", "name", "kana", "email", "organisation", "mode")
REQUIRED = ("name", "email", "mode")
LOSSY_FIELDS = ("name", "kana", "organisation")  # free text a CP932 save can damage (e-mail and mode match)
MAX_REF_NO = 40
_HEADERS = {
    "ref_no": ("受付番号", "ref_no", "ref no", "reference no", "reference no."),
    "name": ("氏名", "name"),
    "kana": ("フリガナ", "ふりがな", "kana", "reading"),
    "email": ("メールアドレス", "email", "e-mail"),
    "organisation": ("所属", "organisation", "organization"),
    "mode": ("参加方法", "mode"),
}
_FIELD_OF = {nfkc(alias).casefold(): name for name, aliases in _HEADERS.items() for alias in aliases}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
EXPORT_HEADERS = {
    "ja": ("受付番号", "氏名", "フリガナ", "メールアドレス", "所属", "参加方法", "状態", "参加証URL", "来場時刻",
           "オンライン視聴分", "参加"),
    "en": ("ref_no", "name", "kana", "email", "organisation", "mode", "status", "ticket_url", "checked_in_at",
           "online_minutes", "attended"),
}  # fmt: skip


@dataclass(frozen=True)
class Problem:
    """One reason a row is bad: a field (or "row") and a reason code of `csv.reason.*`."""

    field: str
    reason: str
    other_line: int = 0

    def text(self, lang: str) -> str:
        label = translate(f"csv.col.{self.field}", lang)
        return translate(f"csv.reason.{self.reason}", lang, field=label, other=self.other_line)


@dataclass(frozen=True)
class BadRow:
    """A row that cannot be imported: where it starts in the file, and why."""

    line: int
    problems: tuple[Problem, ...]

    def text(self, lang: str) -> str:
        """e.g. 「3行目: 氏名が空です、メールアドレスの形式が正しくありません」."""
        reasons = ("、" if lang == "ja" else "; ").join(problem.text(lang) for problem in self.problems)
        return f"{translate('csv.line', lang, line=self.line)}: {reasons}"


@dataclass(frozen=True)
class KeptRow:
    """A row whose values lost characters to the file's encoding: the stored values of `fields` were kept."""

    line: int
    fields: tuple[str, ...]

    def text(self, lang: str) -> str:
        """e.g. 「3行目: 氏名の「?」は…登録済みの値を残しました」."""
        labels = ("、" if lang == "ja" else ", ").join(translate(f"csv.col.{field}", lang) for field in self.fields)
        return f"{translate('csv.line', lang, line=self.line)}: {translate('csv.kept', lang, fields=labels)}"


@dataclass(frozen=True)
class ImportRow:
    """One good row: its line, the reference number it gives ("" for none) and the application."""

    line: int
    ref_no: str
    app: Application


@dataclass(frozen=True)
class ParsedFile:
    encoding: str
    rows: tuple[ImportRow, ...]
    bad: tuple[BadRow, ...]
    ignored_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImportReport:
    """What an import did; `written` is False when bad rows made it refuse the whole file."""

    encoding: str
    written: bool
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    waitlisted: tuple[str, ...] = ()  # reference numbers of new venue registrants past capacity
    promoted: tuple[str, ...] = ()  # moved up from the waiting list by seats this import freed
    bad: tuple[BadRow, ...] = ()
    ignored_columns: tuple[str, ...] = ()
    kept: tuple[KeptRow, ...] = ()  # rows where characters lost to the encoding were not written over the stored ones

    def summary(self, lang: str) -> str:
        """One sentence for the organiser."""
        if not self.written:
            return translate("csv.report.rejected", lang, count=len(self.bad))
        text = translate(
            "csv.report.done", lang, created=self.created, waitlisted=len(self.waitlisted), updated=self.updated,
            unchanged=self.unchanged, skipped=len(self.bad),
        )  # fmt: skip
        if self.promoted:
            text += (" " if lang == "en" else "") + translate("csv.report.promoted", lang, count=len(self.promoted))
        return text


def decode(data: bytes) -> tuple[str, str]:
    """The text of a file and its encoding: UTF-8 with BOM, UTF-8, else CP932 (Japanese Excel)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 ("Unicode text"): CP932 would read it as garbage
        raise FileProblem("csv.file.encoding")
    candidates: tuple[str, ...] = ("utf-8-sig",) if data.startswith(b"\xef\xbb\xbf") else ("utf-8", "cp932")
    for encoding in candidates:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise FileProblem("csv.file.encoding")


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """(first line number, cells) of each record; a quoted cell may span lines."""
    reader = csv.reader(io.StringIO(text, newline=""))
    end = 0
    for cells in reader:
        yield end + 1, cells
        end = reader.line_num


def _columns(header: list[str]) -> tuple[dict[str, int], tuple[str, ...]]:
    """Where each known field is, and the headers we do not know (ignored)."""
    where: dict[str, int] = {}
    ignored = []
    for index, cell in enumerate(header):
        name = _FIELD_OF.get(nfkc(cell).casefold())
        if name is None:
            if cell.strip():
                ignored.append(cell.strip())
        elif name in where:
            raise FileProblem("csv.file.repeated", column=cell.strip())
        else:
            where[name] = index
    missing = [translate(f"csv.col.{name}", "ja") for name in REQUIRED if name not in where]
    if missing:
        raise FileProblem("csv.file.missing", columns="、".join(missing))
    return where, tuple(ignored)


def _formula_like(cell: str) -> bool:
    """Whether a cell starts a formula once any leading apostrophes are set aside ('=x too, so it reads back)."""
    return cell.lstrip("'").startswith(_FORMULA_START)


def _unneutralise(cell: str) -> str:
    """Undo our own export's protection: '=x → =x, ''=x → '=x."""
    return cell[1:] if cell.startswith("'") and _formula_like(cell) else cell


def _check_row(line: int, cells: list[str], where: dict[str, int], width: int) -> ImportRow | BadRow:
    if any(cell.strip() for cell in cells[width:]):
        return BadRow(line, (Problem("row", "columns"),))
    values = {name: _unneutralise(cells[index]) if index < len(cells) else "" for name, index in where.items()}
    problems = []
    ref_no = nfkc(single_line(values.pop("ref_no", "")))
    if len(ref_no) > MAX_REF_NO:
        problems.append(Problem("ref_no", "too_long"))
    try:
        app = validate(values, require_kana=False)
    except Invalid as exc:
        problems += [Problem(name, reason) for name, reason in exc.fields.items() if name in FIELDS]
    if problems:
        return BadRow(line, tuple(sorted(problems, key=lambda p: FIELDS.index(p.field) if p.field in FIELDS else -1)))
    return ImportRow(line, ref_no, app)


def _repeats(rows: Iterable[ImportRow]) -> tuple[list[ImportRow], list[BadRow]]:
    """A second row with the same reference number or e-mail is bad (it would overwrite the first)."""
    seen: dict[tuple[str, str], int] = {}
    good, bad = [], []
    for row in rows:
        keys = ([("ref_no", row.ref_no)] if row.ref_no else []) + [("email", row.app.email_key)]
        problems = tuple(Problem(name, "repeated", seen[(name, key)]) for name, key in keys if (name, key) in seen)
        if problems:
            bad.append(BadRow(row.line, problems))
            continue
        seen.update({key: row.line for key in keys})
        good.append(row)
    return good, bad


def _cp932_holds(ch: str) -> bool:
    try:
        ch.encode("cp932")
    except UnicodeEncodeError:
        return False
    return True


def lost_in_encoding(imported: str, stored: str) -> bool:
    """Whether `imported` is `stored` as a CP932 save left it: what CP932 cannot hold (𠮷, emoji) became "?".

    Japanese Excel's default "CSV" is CP932; it writes one "?" per character it cannot hold (two for
    one outside the BMP), and nothing else changes. A value edited anywhere else is taken as typed.
    """
    if "?" not in imported or imported == stored:
        return False
    pattern = []
    for holds, run in groupby(stored, key=_cp932_holds):
        text = "".join(run)
        pattern.append(re.escape(text) if holds else rf"\?{{{len(text)},{2 * len(text)}}}")
    return re.fullmatch("".join(pattern), imported) is not None


def keep_lost_characters(stored: Registrant, app: Application) -> tuple[Application, tuple[str, ...]]:
    """The row's application with each value that lost characters to the encoding put back as stored; those fields."""
    lost = tuple(name for name in LOSSY_FIELDS if lost_in_encoding(getattr(app, name), getattr(stored, name)))
    return replace(app, **{name: getattr(stored, name) for name in lost}), lost


def parse(data: bytes) -> ParsedFile:
    """Every row of a registrant file, checked; FileProblem when the file itself is unreadable."""
    text, encoding = decode(data)
    records = ((line, cells) for line, cells in _records(text) if any(cell.strip() for cell in cells))
    first = next(records, None)
    if first is None:
        raise FileProblem("csv.file.empty")
    where, ignored = _columns(first[1])
    checked = [_check_row(line, cells, where, len(first[1])) for line, cells in records]
    good, repeated = _repeats(row for row in checked if isinstance(row, ImportRow))
    bad = sorted([row for row in checked if isinstance(row, BadRow)] + repeated, key=lambda row: row.line)
    return ParsedFile(encoding, tuple(good), tuple(bad), ignored)


@dataclass(frozen=True)
class ExportRow:
    """One registrant in the report, with their current ticket code and attendance."""

    registrant: Registrant
    ticket_code: str | None = None
    first_checked_in_at: float | None = None
    watched_seconds: float = 0.0

    @property
    def attended(self) -> bool:
        return self.first_checked_in_at is not None or self.watched_seconds > 0


def neutralise(cell: str) -> str:
    """A cell Excel would run as a formula (= + - @, tab, CR first) gets a leading apostrophe.

    So does one that already reads '=x: otherwise the import, which takes one apostrophe off, would change it.
    """
    return "'" + cell if _formula_like(cell) else cell


ExportCell = str | int | datetime | None
EXPORT_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def export_values(row: ExportRow, base_url: str, lang: str) -> list[ExportCell]:
    """The cells of one report row as values: the first check-in a JST datetime (no zone), numbers as ints."""
    r = row.registrant
    # Japanese files carry the words people read; English ones the values of the API.
    mode = translate(f"mode.{r.mode.value}", lang) if lang == "ja" else r.mode.value
    status = translate(f"status.{r.status.value}", lang) if lang == "ja" else r.status.value
    checked_in = None
    if row.first_checked_in_at is not None:
        checked_in = to_datetime(row.first_checked_in_at).replace(tzinfo=None)
    return [
        r.ref_no,
        r.name,
        r.kana,
        r.email,
        r.organisation,
        mode,
        status,
        f"{base_url}/t/{row.ticket_code}" if row.ticket_code else "",
        checked_in,
        round(row.watched_seconds / 60),
        1 if row.attended else 0,
    ]


def _csv_cell(value: ExportCell) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime(EXPORT_TIME_FORMAT)
    if isinstance(value, int):
        return str(value)
    return neutralise(value)


def format_export(rows: Sequence[ExportRow], base_url: str, *, english_headers: bool = False) -> bytes:
    """The attendance report: UTF-8 with BOM, CRLF, one row per registrant, formula cells neutralised."""
    lang = "en" if english_headers else "ja"
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_HEADERS[lang])
    for row in rows:
        writer.writerow([_csv_cell(value) for value in export_values(row, base_url, lang)])
    return out.getvalue().encode("utf-8-sig")

"""Properties of registrant files: what we export reads back as it was, every encoding we accept reads right,
and bad rows are named by the line they start on and never half-imported."""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import tests.hypothesis_profile  # noqa: F401  (registers the profiles)
from checkin.csvio import EXPORT_HEADERS, ExportRow, format_export, parse
from checkin.errors import ImportRejected, Invalid
from checkin.models import Event, Registrant, Status
from checkin.registration import validate
from checkin.storage import Database
from checkin.storage.events import create_event
from checkin.storage.roster import apply_import
from tests.utils import EVENT

HEADERS = {"ja": EXPORT_HEADERS["ja"][:6], "en": EXPORT_HEADERS["en"][:6]}
TRICKY = [
    ",",
    '"',
    "\n",
    "\r\n",
    "=",
    "+",
    "-",
    "@",
    "'",
    "\t",
    " ",
    "\u3000",
    "𠮷",
    "👨\u200d👩\u200d👧",
    "\u200d",
    "髙",
    "①",
]
KANA = "アイウエオカキクケコガギグゲゴサシスセソタチツテトナニヌネノハバパヒフヘホマミムメモヤユヨラリルレロワヲンー・ "
CP932_SAFE = st.characters(codec="cp932", exclude_characters="¢£¬‖−〜", exclude_categories=("Cs", "Cc"))


def texts(alphabet: st.SearchStrategy[str] | None = None, max_size: int = 8) -> st.SearchStrategy[str]:
    """Text of ordinary and awkward pieces: commas, quotes, newlines, formula starts, emoji, 𠮷, joiners."""
    pieces = st.text(alphabet=st.characters(exclude_categories=("Cs",)) if alphabet is None else alphabet, max_size=4)
    if alphabet is None:
        pieces = st.one_of(pieces, st.sampled_from(TRICKY))
    return st.lists(pieces, max_size=max_size).map("".join)


@dataclass(frozen=True)
class Person:
    """One row as someone typed it: the cells of the six columns, in file order."""

    ref_no: str
    name: str
    kana: str
    email: str
    organisation: str
    mode: str

    @property
    def cells(self) -> list[str]:
        return [self.ref_no, self.name, self.kana, self.email, self.organisation, self.mode]


@st.composite
def people(draw: st.DrawFn, alphabet: st.SearchStrategy[str] | None = None, size: int = 6) -> list[Person]:
    """Up to `size` rows with distinct reference numbers and e-mail addresses (the import's keys)."""
    count = draw(st.integers(1, size))
    prefixes = draw(st.lists(st.sampled_from(["", "=", "+", "-", "@", "'", "'="]), min_size=count, max_size=count))
    return [
        Person(
            ref_no=draw(st.sampled_from(["", f"{prefix}R{n}"])),
            name=draw(texts(alphabet)),
            kana=draw(st.text(alphabet=KANA, max_size=10)),
            email=f"{prefix}p{n}@example.jp" if prefix != "@" else f"p{n}@example.jp",
            organisation=draw(texts(alphabet, 4)),
            mode=draw(st.sampled_from(["venue", "online", "会場参加", "オンライン参加", "オンライン"])),
        )
        for n, prefix in enumerate(prefixes)
    ]


def valid(person: Person) -> bool:
    try:
        validate(_fields(person), require_kana=False)
    except Invalid:
        return False
    return True


def as_registrant(n: int, person: Person) -> Registrant:
    """The registrant a valid row becomes (what registration stores: the validated fields)."""
    app = validate(_fields(person), require_kana=False)
    return Registrant(
        n + 1, 1, person.ref_no, app.name, app.kana, app.email, app.organisation, app.mode, Status.REGISTERED, 0.0
    )


def write_csv(rows: list[list[str]], lang: str, newline: str) -> tuple[str, list[int]]:
    """A registrant file, and the line each row starts on (CR, LF and CRLF each end a line)."""
    records = []
    for cells in [list(HEADERS[lang]), *rows]:
        out = io.StringIO(newline="")
        # With LF endings a bare CR in a cell is only quoted when every cell is (as LibreOffice saves).
        quoting = csv.QUOTE_MINIMAL if newline == "\r\n" else csv.QUOTE_ALL
        csv.writer(out, lineterminator=newline, quoting=quoting).writerow(cells)
        records.append(out.getvalue())
    starts = [1 + len(re.findall(r"\r\n|\r|\n", "".join(records[:n]))) for n in range(1, len(records))]
    return "".join(records), starts


@settings(max_examples=60)
@given(rows=people(), english=st.booleans())
def test_export_then_import_gives_back_every_registrant(rows: list[Person], english: bool) -> None:
    """The attendance report, read as a registrant file, gives each registrant's fields back unchanged."""
    registrants = [as_registrant(n, person) for n, person in enumerate(rows) if valid(person)]
    assume(registrants)
    data = format_export([ExportRow(r) for r in registrants], "https://example.jp", english_headers=english)
    parsed = parse(data)
    assert parsed.encoding == "utf-8-sig" and parsed.bad == ()
    back = [
        (row.ref_no, row.app.name, row.app.kana, row.app.email, row.app.organisation, row.app.mode)
        for row in parsed.rows
    ]
    assert back == [(r.ref_no, r.name, r.kana, r.email, r.organisation, r.mode) for r in registrants]
    # No cell of the report starts a formula.
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert not any(cell[:1] in ("=", "+", "-", "@", "\t", "\r") for line in table for cell in line)


@settings(max_examples=60)
@given(
    rows=st.one_of(
        st.tuples(st.sampled_from(["utf-8", "utf-8-sig"]), people()),
        st.tuples(st.just("cp932"), people(CP932_SAFE)),
    ),
    newline=st.sampled_from(["\r\n", "\n"]),
)
def test_utf8_bom_and_cp932_files_read_as_written(rows: tuple[str, list[Person]], newline: str) -> None:
    """A file saved as UTF-8, UTF-8 with BOM or CP932 (Japanese headers, as Excel saves) reads back as typed."""
    encoding, persons = rows
    text, _ = write_csv([person.cells for person in persons], "ja", newline)
    parsed = parse(text.encode(encoding))
    assert parsed.encoding == encoding
    good = [person for person in persons if valid(as_read(person))]
    assert len(parsed.rows) + len(parsed.bad) == len(persons)
    expected = [validate(_fields(as_read(p)), require_kana=False) for p in good]
    assert [(row.app.name, row.app.organisation) for row in parsed.rows] == [(a.name, a.organisation) for a in expected]


def _fields(person: Person) -> dict[str, object]:
    return dict(zip(("name", "kana", "email", "organisation", "mode"), person.cells[1:], strict=True))


def as_read(person: Person) -> Person:
    """The row as the import reads it: one leading apostrophe before a formula start is our export's and goes."""
    cells = [cell[1:] if re.match(r"'+[=+\-@\t\r]", cell) else cell for cell in person.cells]
    return Person(*cells)


BREAKAGES = {
    "name": ("name", ""),
    "email": ("email", "not-an-address"),
    "mode": ("mode", "会場?"),
    "long": ("name", "長" * 101),
    "kana": ("kana", "yamada"),
}


@st.composite
def files_with_bad_rows(draw: st.DrawFn) -> tuple[str, list[int], list[int]]:
    """A file of good and broken rows (some cells spanning lines); the lines the good and bad rows start on."""
    persons = [p for p in draw(people(size=8)) if valid(p)]
    assume(persons)
    kinds = draw(
        st.lists(st.sampled_from([None, None, *BREAKAGES, "repeat"]), min_size=len(persons), max_size=len(persons))
    )
    rows: list[list[str]] = []
    bad: set[int] = set()
    for index, (person, kind) in enumerate(zip(persons, kinds, strict=True)):
        earlier = [persons[i] for i in range(index) if i not in bad]
        if kind == "repeat" and earlier:  # the e-mail of an earlier good row, in another case and width
            person = replace(person, email=earlier[0].email.upper().replace("@", "＠"), ref_no="")
            bad.add(index)
        elif kind in BREAKAGES:
            field, value = BREAKAGES[kind]
            person = replace(person, **{field: value})
            bad.add(index)
        rows.append(person.cells)
    text, starts = write_csv(rows, draw(st.sampled_from(["ja", "en"])), draw(st.sampled_from(["\r\n", "\n"])))
    return text, [starts[i] for i in range(len(rows)) if i not in bad], [starts[i] for i in sorted(bad)]


@settings(max_examples=60)
@given(case=files_with_bad_rows())
def test_bad_rows_are_named_by_the_line_they_start_on(case: tuple[str, list[int], list[int]]) -> None:
    """Each broken row is reported once, by the line it starts on; every other row is good."""
    text, good_lines, bad_lines = case
    parsed = parse(text.encode("utf-8"))
    assert [row.line for row in parsed.bad] == bad_lines
    assert [row.line for row in parsed.rows] == good_lines
    assert all(row.problems for row in parsed.bad)


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    database = Database(Path(tmp_path_factory.mktemp("props_csv")) / "checkin.db", "NORMAL")
    database.open()
    yield database
    database.close()


_slugs = iter(range(1_000_000))


def _registrant_count(db: Database, event: Event) -> int:
    return int(
        db.read_sync(
            lambda c: c.execute("SELECT COUNT(*) FROM registrants WHERE event_id = ?", (event.id,)).fetchone()[0]
        )
    )


@settings(max_examples=25)
@given(case=files_with_bad_rows(), skip=st.booleans())
def test_a_file_with_bad_rows_is_never_half_imported(
    database: Database, case: tuple[str, list[int], list[int]], skip: bool
) -> None:
    """With a bad row the whole file is refused and nothing is written; when skipping, exactly the good rows are."""
    text, good_lines, bad_lines = case
    event = database.write_sync(create_event, replace(EVENT, slug=f"csv{next(_slugs)}"), time.time())
    parsed = parse(text.encode("utf-8"))
    try:
        report = database.write_sync(apply_import, event, parsed, time.time(), skip_bad_rows=skip, actor="test")
    except ImportRejected as rejected:
        report = rejected.report
    assert [row.line for row in report.bad] == bad_lines
    if bad_lines and not skip:
        assert not report.written and report.created == 0
        assert _registrant_count(database, event) == 0
    else:
        assert report.written and report.created == len(good_lines)
        assert _registrant_count(database, event) == len(good_lines)

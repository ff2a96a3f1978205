"""The web layer (and presence, the mailer, the import) change data only through `Writes`: no database writes,
no hub calls, no sqlite3 of their own."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "checkin"
# Everything that runs in the server and changes data; the command line writes with `write_sync`.
SERVED = [
    *sorted((PACKAGE / "web").glob("*.py")),
    *(PACKAGE / name for name in ("watching.py", "mailer.py", "roster.py")),
]
WRITES = {"write", "write_sync", "submit_write"}


def _receiver(node: ast.Attribute) -> str:
    """The last name of what an attribute is taken from: `db` for `svc.db.write`, `hub` for `self.hub`."""
    value = node.value
    if isinstance(value, ast.Attribute):
        return value.attr
    return value.id if isinstance(value, ast.Name) else ""


def problems(source: str) -> list[str]:
    """Where this module writes to a database, tells the hub by itself, or imports sqlite3."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute):
            receiver = _receiver(node).lower()
            if node.attr in WRITES and (receiver.endswith("db") or "database" in receiver):
                found.append((node.lineno, f"{receiver}.{node.attr}"))
            if node.attr == "changed" and receiver.endswith("hub"):
                found.append((node.lineno, f"{receiver}.changed"))
        elif isinstance(node, ast.Import) and any(alias.name.split(".")[0] == "sqlite3" for alias in node.names):
            found.append((node.lineno, "import sqlite3"))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sqlite3":
            found.append((node.lineno, "from sqlite3 import"))
    return [f"line {line}: {what}" for line, what in sorted(found)]


@pytest.mark.parametrize("path", SERVED, ids=lambda path: str(path.relative_to(PACKAGE)))
def test_served_modules_change_data_only_through_writes(path: Path) -> None:
    """A web module (or presence, the mailer, the import) never calls `db.write`/`write_sync` or `hub.changed`
    itself, nor imports sqlite3."""
    assert problems(path.read_text(encoding="utf-8")) == []


def test_the_check_sees_each_way_around_the_door() -> None:
    """Each forbidden form is found, including a write passed along rather than called; reads pass."""
    source = """
import sqlite3
from sqlite3 import Connection
async def endpoint(svc, request, database):
    await svc.db.write(fn, 1)
    svc.db.write_sync(fn)
    run(svc.db.submit_write, fn)
    await database.write(fn)
    services(request).hub.changed("sympo")
    await svc.db.read(fn)
    svc.db.lookup(fn)
    await svc.writes.change("sympo", fn)
    transport.write(b"frame")
"""
    assert [problem.split(": ")[1] for problem in problems(source)] == [
        "import sqlite3",
        "from sqlite3 import",
        "db.write",
        "db.write_sync",
        "db.submit_write",
        "database.write",
        "hub.changed",
    ]

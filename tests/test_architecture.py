"""The layers point one way: each group of modules imports only the groups below it (read from the source).

Every import statement counts, including those inside functions: a late import is still a dependency.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "checkin"

# Plain rules and values: no I/O of their own, no storage, no HTTP.
DOMAIN = {
    "checkin",
    "checkin.access",
    "checkin.calendarlinks",
    "checkin.csvio",
    "checkin.display",
    "checkin.errors",
    "checkin.eventform",
    "checkin.i18n",
    "checkin.ics",
    "checkin.models",
    "checkin.presence",
    "checkin.registration",
    "checkin.scans",
    "checkin.settings",
    "checkin.staff",
    "checkin.stats",
    "checkin.text",
    "checkin.ticketmail",
    "checkin.tickets",
    "checkin.viewing",
    "checkin.xlsxio",
}
# What runs the domain over storage, the hub and the mail: the process's services and the commands' work.
SERVICES = {
    "checkin.cli_data",
    "checkin.demo",
    "checkin.hub",
    "checkin.mailer",
    "checkin.purge",
    "checkin.qrcache",
    "checkin.ratelimit",
    "checkin.roster",
    "checkin.services",
    "checkin.staffcli",
    "checkin.watching",
    "checkin.writes",
}
# Where the process starts: these alone may join the endpoints and the server.
ENTRY = {"checkin.app", "checkin.cli", "checkin.serving"}

# group -> the checkin groups its modules may import (its own included).
MAY_IMPORT: dict[str, set[str]] = {
    "domain": {"domain"},
    "storage": {"domain", "storage"},
    "services": {"domain", "storage", "services", "shared"},
    # The Redis variants of what is live (checkin/shared/: hub, presence, connection counts) stand beside
    # the in-process parts they replace; the server picks the shared connection counts by its settings.
    "shared": {"domain", "storage", "services", "server", "shared"},
    "server": {"domain", "server", "shared"},
    "web": {"domain", "storage", "services", "server", "web"},
    "rehearsal": {"domain", "rehearsal"},
    "entry": {"domain", "storage", "services", "shared", "server", "web", "rehearsal", "entry"},
}
# group -> outside packages it must not import: HTTP and the server stay out of the layers below the web.
MAY_NOT_IMPORT: dict[str, set[str]] = {
    "domain": {"starlette", "uvicorn", "websockets", "httpx", "sqlite3"},
    "storage": {"starlette", "uvicorn", "websockets", "httpx"},
    "services": {"starlette", "uvicorn", "websockets"},
    "shared": {"starlette", "uvicorn", "websockets", "sqlite3"},
    "server": {"starlette"},
    "web": set(),
    "rehearsal": {"starlette", "uvicorn", "sqlite3"},
    "entry": set(),
}


def group_of(module: str) -> str:
    """The layer a checkin module belongs to; a module in no group fails the test (the table must name it)."""
    for prefix, group in (
        ("checkin.storage", "storage"),
        ("checkin.web", "web"),
        ("checkin.server", "server"),
        ("checkin.shared", "shared"),
        ("checkin.rehearsal", "rehearsal"),
    ):
        if module == prefix or module.startswith(prefix + "."):
            return group
    for group, members in (("domain", DOMAIN), ("services", SERVICES), ("entry", ENTRY)):
        if module in members:
            return group
    raise AssertionError(f"{module} is in no layer: add it to the table in tests/test_architecture.py")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> list[tuple[str, Path]]:
    """Every Python module of the package, by dotted name."""
    return sorted((module_name(path), path) for path in PACKAGE.rglob("*.py"))


def imported(module: str, path: Path) -> Iterator[tuple[int, str]]:
    """(line, imported module) for every import statement of a file, wherever it stands."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            # `from checkin import stats` imports checkin.stats: judge the module, not the package.
            names = [f"{base}.{alias.name}" for alias in node.names] if base == "checkin" else [base]
            yield from ((node.lineno, name) for name in names)


def checkin_module(name: str, known: set[str]) -> str | None:
    """The checkin module an import names (the longest known prefix), or None for an outside package."""
    if name != "checkin" and not name.startswith("checkin."):
        return None
    while name not in known and "." in name:
        name = name.rpartition(".")[0]
    return name


def wrong_imports(module: str, path: Path, known: set[str]) -> list[str]:
    """The imports of one file that point the wrong way, as `file:line: a (layer) -> b`."""
    group = group_of(module)
    wrong = []
    for line, name in imported(module, path):
        target = checkin_module(name, known)
        if target is None:
            bad = name.split(".")[0] in MAY_NOT_IMPORT[group]
        else:
            bad = group_of(target) not in MAY_IMPORT[group]
        if bad:
            wrong.append(f"{path.name}:{line}: {module} ({group}) -> {name}")
    return wrong


def violations() -> list[str]:
    """Every import in the package that points the wrong way."""
    found = modules()
    known = {name for name, _ in found}
    return [where for module, path in found for where in wrong_imports(module, path, known)]


def test_every_module_has_a_layer() -> None:
    """Each module of checkin is in the table, so a new one is placed on purpose."""
    for module, _ in modules():
        group_of(module)


def test_imports_point_down_the_layers() -> None:
    """Domain modules import no storage, web, server or HTTP; storage no web; only app and cli join the web."""
    wrong = violations()
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


@pytest.mark.parametrize(
    ("source", "module", "expected"),
    [
        ("from checkin.web.common import services\n", "checkin.stats", True),
        ("def late() -> None:\n    import starlette.requests\n", "checkin.scans", True),
        ("from checkin import storage\n", "checkin.presence", True),
        ("from . import db\n", "checkin.storage.roster", False),
        ("from checkin.models import Event\n", "checkin.storage.roster", False),
        ("from checkin.web import watch\n", "checkin.app", False),
    ],
)
def test_the_check_sees_every_kind_of_import(tmp_path: Path, source: str, module: str, expected: bool) -> None:
    """A module-level, a function-level, a package-form and a relative import are all read and judged."""
    path = tmp_path / "probe.py"
    path.write_text(source, encoding="utf-8")
    known = {name for name, _ in modules()}
    assert bool(wrong_imports(module, path, known)) is expected


def test_errors_live_in_one_place() -> None:
    """Every exception class of the package is a coded error of checkin.errors, but the transport's own.

    `ProtocolError` is a broken websocket frame, closed with an RFC 6455 code before any endpoint sees it;
    `PgIntegrityError` is PostgreSQL's constraint violation dressed as the `sqlite3.IntegrityError` that
    storage functions catch on either engine, never seen above storage; `WriteRaised` ends a PostgreSQL batch
    run without savepoints inside the engine, which runs it again (`storage.batch`).
    """
    defined = set()
    for module, _ in modules():
        for name, value in vars(importlib.import_module(module)).items():
            if isinstance(value, type) and issubclass(value, BaseException) and value.__module__ == module:
                defined.add((module, name))
    elsewhere = {(module, name) for module, name in defined if module != "checkin.errors"}
    assert elsewhere == {
        ("checkin.server.wsframes", "ProtocolError"),
        ("checkin.storage.pgsql", "PgIntegrityError"),
        ("checkin.storage.batch", "WriteRaised"),
    }

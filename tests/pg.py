"""A fresh PostgreSQL database per test, on the server at 127.0.0.1:5432 (user postgres, trust)."""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
from collections.abc import Iterator

import psycopg
import pytest

from checkin.storage.pg_schema import migrate_pg

SERVER = os.environ.get("CHECKIN_TEST_PG", "postgresql://postgres@127.0.0.1:5432")
_template: list[str] = []  # a database with the schema, made once per test run and copied for each test


def admin_connection() -> psycopg.Connection[tuple[object, ...]]:
    """A connection to the server's `postgres` database; the test is skipped where no server runs
    (a machine set up by scripts/system-deps.sh alone), unless CHECKIN_TEST_PG names one."""
    try:
        return psycopg.connect(f"{SERVER}/postgres", autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        if "CHECKIN_TEST_PG" in os.environ:
            raise
        pytest.skip(f"no PostgreSQL at {SERVER} (set CHECKIN_TEST_PG to a server URL): {exc}")


def _drop(name: str) -> None:
    with admin_connection() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _schema_template() -> str:
    """The run's template database (copying it is several times quicker than creating the schema)."""
    if not _template:
        name = f"checkin_t_template_{secrets.token_hex(4)}"
        with admin_connection() as conn:
            conn.execute(f"CREATE DATABASE {name}")
        atexit.register(_drop, name)
        with psycopg.connect(f"{SERVER}/{name}", autocommit=True) as conn:
            migrate_pg(conn)
        _template.append(name)
    return _template[0]


@contextlib.contextmanager
def fresh_database(*, empty: bool = False, icu_locale: str = "") -> Iterator[str]:
    """The URL of a new database `checkin_t_<random>` with the schema (or `empty`, or empty in an ICU
    locale such as en-US, as production databases often are), dropped afterwards."""
    name = f"checkin_t_{secrets.token_hex(6)}"
    if icu_locale:
        options = f" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE '{icu_locale}' LOCALE 'C.UTF-8'"
    else:
        options = "" if empty else f" TEMPLATE {_schema_template()}"
    with admin_connection() as conn:
        conn.execute(f"CREATE DATABASE {name}{options}")
    try:
        yield f"{SERVER}/{name}"
    finally:
        _drop(name)

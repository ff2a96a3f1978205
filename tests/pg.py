"""A fresh PostgreSQL database per test, on the server at 127.0.0.1:5432 (user postgres, trust)."""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
from collections.abc import Iterator

import psycopg

from checkin.storage.pg_schema import migrate_pg

SERVER = os.environ.get("CHECKIN_TEST_PG", "postgresql://postgres@127.0.0.1:5432")
_template: list[str] = []  # a database with the schema, made once per test run and copied for each test


def admin_connection() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(f"{SERVER}/postgres", autocommit=True)


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
def fresh_database(*, empty: bool = False) -> Iterator[str]:
    """The URL of a new database `checkin_t_<random>` with the schema (or `empty`), dropped afterwards."""
    name = f"checkin_t_{secrets.token_hex(6)}"
    template = "" if empty else f" TEMPLATE {_schema_template()}"
    with admin_connection() as conn:
        conn.execute(f"CREATE DATABASE {name}{template}")
    try:
        yield f"{SERVER}/{name}"
    finally:
        _drop(name)

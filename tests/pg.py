"""A fresh PostgreSQL database per test, on the server at 127.0.0.1:5432 (user postgres, trust)."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator

import psycopg

SERVER = os.environ.get("CHECKIN_TEST_PG", "postgresql://postgres@127.0.0.1:5432")


def admin_connection() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(f"{SERVER}/postgres", autocommit=True)


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    """The URL of a new empty database `checkin_t_<random>`, dropped afterwards (its connections too)."""
    name = f"checkin_t_{secrets.token_hex(6)}"
    with admin_connection() as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{SERVER}/{name}"
    finally:
        with admin_connection() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

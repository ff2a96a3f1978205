"""Storage: the only package with SQL. An `Engine` (SQLite or PostgreSQL) runs plain functions of a connection."""

from checkin.storage.db import Database
from checkin.storage.engine import Engine, database_for, opened

__all__ = ["Database", "Engine", "database_for", "opened"]

"""Storage: the only package with SQL. `Database` runs plain functions of a sqlite3 connection."""

from checkin.storage.db import Database

__all__ = ["Database"]

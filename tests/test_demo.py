"""The demo symposium is filled from the registrant sample, or generated where the file is absent."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from checkin.demo import SYMPOSIUM, sample_file, seed_registrants
from checkin.storage import Database
from checkin.storage import registrants as store
from checkin.storage.events import create_event


def test_sample_file_is_beside_the_repository_or_from_the_environment() -> None:
    """../shared/data/registrants-sample.csv from the repository root, unless $CHECKIN_DEMO_CSV says otherwise."""
    assert sample_file({}).parts[-3:] == ("shared", "data", "registrants-sample.csv")
    assert sample_file({"CHECKIN_DEMO_CSV": "/tmp/x.csv"}) == Path("/tmp/x.csv")


def test_demo_imports_the_sample(db: Database) -> None:
    """With the sample file at hand, the demo holds its 500 registrants."""
    sample = sample_file()
    if not sample.is_file():
        pytest.skip(f"{sample} is not here")
    event = db.write_sync(create_event, SYMPOSIUM, time.time())
    assert seed_registrants(db, event, time.time(), sample) == 500
    assert len(db.read_sync(store.list_registrants, event.id)) == 500


def test_demo_falls_back_to_generated_registrants(db: Database, tmp_path: Path) -> None:
    """Without the file, generated registrants fill the demo."""
    event = db.write_sync(create_event, SYMPOSIUM, time.time())
    assert seed_registrants(db, event, time.time(), tmp_path / "absent.csv") == 200

"""The demo symposium is filled from the registrant sample, or generated where the file is absent."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from checkin.demo import FAMILY_NAMES, GIVEN_NAMES, SYMPOSIUM, generated_applications, sample_file, seed_registrants
from checkin.registration import validate
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
    people = db.read_sync(store.list_registrants, event.id)
    assert len({person.name for person in people}) == 200


def test_generated_names_are_distinct_and_their_readings_match() -> None:
    """No two demo people share a name, and each reading is the family name's and the given name's."""
    apps = generated_applications(200)
    assert len({app.name for app in apps}) == 200
    for app in apps:
        family, given = app.name.split(" ")
        assert app.kana == f"{FAMILY_NAMES[family]} {GIVEN_NAMES[given]}"
        as_typed = {"name": app.name, "kana": app.kana, "email": app.email, "mode": app.mode.value}
        assert validate(as_typed).kana == app.kana  # katakana already, as the form would store it
    assert len(FAMILY_NAMES) >= 100 and len(GIVEN_NAMES) >= 100


def test_generated_organisations_are_varied() -> None:
    """Companies, offices, universities and associations: many different ones, none taking over the list."""
    organisations = [app.organisation for app in generated_applications(200)]
    named = [organisation for organisation in organisations if organisation]
    assert len(set(named)) >= 80
    assert max(named.count(organisation) for organisation in set(named)) <= 10
    assert 0 < organisations.count("") < 40


def test_more_people_than_name_combinations_are_still_generated() -> None:
    """A benchmark's 100,000 people: every combination is used once, then names repeat (readings still match)."""
    combinations = len(FAMILY_NAMES) * len(GIVEN_NAMES)
    people = generated_applications(combinations + 10)
    assert len(people) == combinations + 10
    assert len({person.name for person in people}) == combinations
    assert len({person.email for person in people}) == combinations + 10

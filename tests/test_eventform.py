"""Event settings as typed in the admin: times in JST, URLs, capacity, and the capacity rule."""

from __future__ import annotations

from dataclasses import fields, replace

import pytest

from checkin.errors import CapacityBelowSeats, Invalid
from checkin.eventform import (
    EDITABLE,
    LONG_TEXTS,
    TEXTS,
    check_capacity,
    form_values,
    parse_new_event,
    parse_settings,
)
from checkin.models import Event, parse_iso
from tests.utils import EVENT

GOOD = {
    "title": " 「働く、を変える」\nテレワークイベント ",
    "starts_at": "2023-11-27T13:30",
    "ends_at": "2023-11-27T16:30",
    "capacity": "300",
    "venue_name": "御茶ノ水ソラシティ 2F ホール",
    "venue_address": "東京都千代田区神田駿河台4-6",
    "map_url": "https://www.openstreetmap.org/",
    "stream_url": "",
    "registration_open": "on",
}


def _errors(form: dict[str, str]) -> dict[str, str]:
    with pytest.raises(Invalid) as caught:
        parse_settings(form)
    return caught.value.fields


def test_valid_settings_are_read_in_japan_time() -> None:
    """Times without an offset are JST; text is one line; unticked boxes are off."""
    settings = parse_settings(GOOD)
    assert settings.starts_at == parse_iso("2023-11-27T13:30:00+09:00")
    assert settings.title == "「働く、を変える」 テレワークイベント"
    assert settings.capacity == 300
    assert settings.registration_open and not settings.waitlist_enabled and not settings.anonymous_watch


def test_form_values_round_trip() -> None:
    """An event's settings shown in the form parse back to the same settings."""
    values = form_values(EVENT)
    settings = parse_settings(values)
    assert (settings.starts_at, settings.ends_at, settings.capacity) == (EVENT.starts_at, EVENT.ends_at, 50)
    assert settings.anonymous_watch == EVENT.anonymous_watch


def test_every_editable_field_of_an_event_round_trips_through_the_form() -> None:
    """The settings are the event's own fields: each one (none left at its default) is shown and read back."""
    event = replace(
        EVENT,
        map_url="https://map.example.jp/",
        stream_url="https://stream.example.jp/live",
        registration_open=False,
        waitlist_enabled=False,
        projector_names=True,
        **{
            name: f"{name} の値"
            for name in (*TEXTS, *LONG_TEXTS)
            if name not in {"title", "venue_name", "venue_address"}
        },
        doors_open_at=EVENT.starts_at - 1800,
        base_url="https://checkin.example.jp",
        hall_capacity=70,
    )
    defaults = {field.name for field in fields(Event) if getattr(event, field.name) == field.default}
    assert defaults.isdisjoint(EDITABLE)
    assert parse_settings(form_values(event)).changes() == {name: getattr(event, name) for name in EDITABLE}


def test_hall_capacity_is_optional_and_round_trips() -> None:
    """A blank hall capacity is None (the registration capacity stands); a number is kept and shown again."""
    assert parse_settings(GOOD).hall_capacity is None
    settings = parse_settings({**GOOD, "hall_capacity": " 350 "})
    assert settings.hall_capacity == 350
    event = parse_new_event({**GOOD, "slug": "sympo", "hall_capacity": "350"})
    assert (event.hall_limit, form_values(event)["hall_capacity"]) == (350, "350")
    assert (EVENT.hall_limit, form_values(EVENT)["hall_capacity"]) == (EVENT.capacity, "")


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("title", "  ", "required"),
        ("title", "x" * 201, "too_long"),
        ("venue_address", "x" * 301, "too_long"),
        ("starts_at", "", "required"),
        ("starts_at", "2023-13-45T99:99", "date"),
        ("ends_at", "2023-11-27T13:00", "order"),
        ("capacity", "-5", "number"),
        ("capacity", "1e3", "number"),
        ("capacity", "", "required"),
        ("capacity", "999999", "range"),
        ("hall_capacity", "-1", "number"),
        ("hall_capacity", "many", "number"),
        ("hall_capacity", "999999", "range"),
        ("map_url", "javascript:alert(1)", "url"),
        ("stream_url", "https://", "url"),
        ("stream_url", "https://x.example/" + "a" * 2000, "url"),
    ],
)
def test_bad_settings_name_the_field_and_why(field: str, value: str, code: str) -> None:
    """Every bad field gives its own error code (shown in Japanese by the admin)."""
    assert _errors({**GOOD, field: value}) == {field: code}


def test_new_event_needs_a_url_safe_slug() -> None:
    """A slug is 2-40 lower-case letters, digits and hyphens; errors combine with the settings'."""
    assert parse_new_event({**GOOD, "slug": "Telework-2023"}).slug == "telework-2023"
    with pytest.raises(Invalid) as caught:
        parse_new_event({**GOOD, "slug": "テレワーク", "title": ""})
    assert caught.value.fields == {"slug": "slug", "title": "required"}
    with pytest.raises(Invalid) as missing:
        parse_new_event(GOOD)
    assert missing.value.fields == {"slug": "required"}


def test_capacity_may_not_drop_below_seats_taken() -> None:
    """Lowering the capacity to the seats taken is fine; below them is refused with the number."""
    check_capacity(40, 40)
    with pytest.raises(CapacityBelowSeats) as caught:
        check_capacity(39, 40)
    assert caught.value.code == "capacity_below_seats" and caught.value.taken == 40

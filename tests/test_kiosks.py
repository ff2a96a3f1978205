"""Kiosks: pairing codes, tokens by name, revocation and health."""

from __future__ import annotations

import time

import pytest

from checkin.errors import AlreadyExists, Invalid, NotFound, PairingFailed
from checkin.models import Event, Role
from checkin.scans import Heartbeat, ScanRequest
from checkin.storage import Database
from checkin.storage.kiosks import (
    PAIRING_ALPHABET,
    PAIRING_LENGTH,
    PAIRING_TTL,
    create_kiosk,
    heartbeat,
    kiosk_for_token,
    list_kiosks,
    new_pairing_code,
    normalise_pairing_code,
    pair_kiosk,
    revoke_kiosk,
)
from checkin.storage.scans import Caller, record_scan
from checkin.storage.staff import create_token, resolve_token

pytestmark = pytest.mark.both_engines


def test_pairing_code_is_eight_unambiguous_characters_stored_hashed(db: Database, event: Event) -> None:
    """A new kiosk gets an 8-character code without I, O, 0 or 1; only its hash is kept."""
    kiosk, code = db.write_sync(create_kiosk, event.id, " 受付１ ", time.time())
    assert kiosk.name == "受付1" and not kiosk.paired
    assert len(code) == PAIRING_LENGTH and set(code) <= set(PAIRING_ALPHABET)
    assert not set("IO01") & set(PAIRING_ALPHABET)
    stored = db.read_sync(lambda conn: conn.execute("SELECT pairing_hash FROM kiosks").fetchone()[0])
    assert code not in stored


def test_kiosk_names_are_unique_until_revoked(db: Database, event: Event) -> None:
    """A live name cannot be taken twice; a revoked kiosk's name can be given to a new device."""
    kiosk, _ = db.write_sync(create_kiosk, event.id, "受付1", time.time())
    with pytest.raises(AlreadyExists):
        db.write_sync(create_kiosk, event.id, "受付1", time.time())
    with pytest.raises(Invalid):
        db.write_sync(create_kiosk, event.id, "  ", time.time())
    db.write_sync(revoke_kiosk, event.id, kiosk.id, time.time())
    again, _ = db.write_sync(create_kiosk, event.id, "受付1", time.time())
    assert again.id == kiosk.id and again.revoked_at is None


def test_pairing_spends_the_code_and_gives_a_kiosk_token(db: Database, event: Event) -> None:
    """The code (any case, with dashes) pairs once: a kiosk token named like the kiosk; then it is spent."""
    kiosk, code = db.write_sync(create_kiosk, event.id, "受付2", time.time())
    typed = f"{code[:4].lower()}-{code[4:]}"
    assert normalise_pairing_code(typed) == code
    pairing = db.write_sync(pair_kiosk, typed, time.time())
    token = db.read_sync(resolve_token, pairing.token)
    assert token is not None and (token.role, token.name, token.event_id) == (Role.KIOSK, "受付2", event.id)
    assert (pairing.slug, pairing.kiosk.token_id) == (event.slug, token.id)
    with pytest.raises(PairingFailed):
        db.write_sync(pair_kiosk, code, time.time())
    assert kiosk.id == pairing.kiosk.id


def test_pairing_code_expires_after_a_day(db: Database, event: Event) -> None:
    """A code is refused once 24 h have passed."""
    now = time.time()
    _, code = db.write_sync(create_kiosk, event.id, "受付3", now)
    with pytest.raises(PairingFailed):
        db.write_sync(pair_kiosk, code, now + PAIRING_TTL + 1)


def test_new_pairing_code_replaces_the_device(db: Database, event: Event) -> None:
    """Pairing a new device with a fresh code revokes the old device's token."""
    kiosk, code = db.write_sync(create_kiosk, event.id, "受付4", time.time())
    old = db.write_sync(pair_kiosk, code, time.time())
    fresh = db.write_sync(new_pairing_code, event.id, kiosk.id, time.time())
    new = db.write_sync(pair_kiosk, fresh, time.time())
    assert db.read_sync(resolve_token, old.token) is None
    assert db.read_sync(resolve_token, new.token) is not None


def test_revoking_a_kiosk_revokes_its_tokens_and_codes(db: Database, event: Event) -> None:
    """A revoked kiosk's token stops resolving, also a command-line token of its name; no new code."""
    kiosk, code = db.write_sync(create_kiosk, event.id, "受付5", time.time())
    pairing = db.write_sync(pair_kiosk, code, time.time())
    _, cli_secret = db.write_sync(create_token, event.id, Role.KIOSK, "受付5", time.time())
    db.write_sync(revoke_kiosk, event.id, kiosk.id, time.time())
    assert db.read_sync(resolve_token, pairing.token) is None
    assert db.read_sync(resolve_token, cli_secret) is None
    with pytest.raises(NotFound):
        db.write_sync(new_pairing_code, event.id, kiosk.id, time.time())


def test_command_line_token_gets_its_kiosk_row_by_name_on_first_use(db: Database, event: Event) -> None:
    """A kiosk token without a kiosk row gets one named like the token; later uses find it again."""
    token, _ = db.write_sync(create_token, event.id, Role.KIOSK, "受付6", time.time())
    first = db.write_sync(kiosk_for_token, event.id, token.id, token.name, time.time())
    again = db.write_sync(kiosk_for_token, event.id, token.id, token.name, time.time())
    assert first.id == again.id and first.name == "受付6" and first.token_id == token.id
    second, _ = db.write_sync(create_token, event.id, Role.KIOSK, "受付6", time.time())
    assert db.write_sync(kiosk_for_token, event.id, second.id, "受付6", time.time()).id == first.id


def test_heartbeat_and_scans_show_in_the_kiosk_list(db: Database, event: Event) -> None:
    """A heartbeat records seen-at, queue and last scan; the list counts each kiosk's scans."""
    token, _ = db.write_sync(create_token, event.id, Role.KIOSK, "受付7", time.time())
    now = time.time()
    db.write_sync(heartbeat, event.id, token.id, "受付7", Heartbeat(4, now - 30, exit_mode=True), now)
    db.write_sync(heartbeat, event.id, token.id, "受付7", Heartbeat(0, None), now + 1)
    db.write_sync(record_scan, event, ScanRequest("s1", code="junk"), Caller("受付7", token.id), now)
    [kiosk] = db.read_sync(list_kiosks, event.id)
    assert (kiosk.queue_length, kiosk.last_scan_at, kiosk.exit_mode) == (0, pytest.approx(now - 30), False)
    assert (kiosk.scans, kiosk.checked_in) == (1, 0)
    assert kiosk.online(now + 10) and not kiosk.online(now + 3600)

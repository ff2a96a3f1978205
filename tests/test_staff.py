"""Staff rules: login names, password policy and hashing."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher, Type

from checkin import staff
from checkin.errors import Invalid


def test_login_names_fold_and_are_checked() -> None:
    """Full-width and upper-case logins are the same login; odd characters are refused."""
    assert staff.login_key(" ＡＤＭＩＮ ") == "admin"
    assert staff.validate_login("Jimu.Kyoku@mhlw") == "jimu.kyoku@mhlw"
    for bad in ("", "a b", "-x", "事務局", "x" * 65):
        with pytest.raises(Invalid) as caught:
            staff.validate_login(bad)
        assert caught.value.fields == {"login": "format"}


def test_password_length_is_bounded() -> None:
    """A password has at least 10 and at most 1024 characters."""
    assert staff.validate_password("x" * 10) == "x" * 10
    with pytest.raises(Invalid) as short:
        staff.validate_password("x" * 9)
    assert short.value.fields == {"password": "too_short"}
    with pytest.raises(Invalid) as long:
        staff.validate_password("x" * 1025)
    assert long.value.fields == {"password": "too_long"}


def test_password_hash_is_argon2id_and_verifies() -> None:
    """The hash is argon2id, holds no plain text, and only the right password matches it."""
    hashed = staff.hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert "correct" not in hashed
    assert staff.verify_password(hashed, "correct horse battery")
    assert not staff.verify_password(hashed, "wrong horse battery")
    assert not staff.verify_password("not a hash", "correct horse battery")
    assert not staff.verify_password(hashed, "x" * 5000)


def test_production_hasher_is_memory_hard_argon2id() -> None:
    """The real parameters are argon2id with tens of MiB of memory (OWASP's recommendation)."""
    assert staff.PARAMETERS.type is Type.ID
    assert staff.PARAMETERS.memory_cost >= 19 * 1024


def test_hash_with_other_parameters_needs_rehash() -> None:
    """A hash made with other costs (or garbage) is flagged for rehashing at the next login."""
    assert not staff.needs_rehash(staff.hash_password("correct horse battery"))
    other = PasswordHasher(time_cost=2, memory_cost=128, parallelism=1).hash("correct horse battery")
    assert staff.needs_rehash(other)
    assert staff.needs_rehash("garbage")

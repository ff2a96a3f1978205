"""Staff logins: password hashing, login names, sessions and the login throttle. No I/O.

Passwords are hashed with argon2id at OWASP's first recommended setting (46 MiB, one pass, one
lane): memory-hard against GPU guessing, ~0.1 s on a small laptop core. Callers on the event loop
run `hash_password` and `verify_password` in the `blocking` thread pool.
"""

from __future__ import annotations

import functools
import re
import secrets

from argon2 import Parameters, PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from checkin.errors import Invalid
from checkin.text import nfkc

PARAMETERS = Parameters(
    type=Type.ID, version=19, salt_len=16, hash_len=32, time_cost=1, memory_cost=46 * 1024, parallelism=1
)
HASHER = PasswordHasher.from_parameters(PARAMETERS)
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
SESSION_SECONDS = 12 * 3600  # one event day; then log in again
_LOGIN = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")


def login_key(login: str) -> str:
    """The form under which a login name is stored and matched: NFKC, trimmed, case-folded."""
    return nfkc(login).casefold()


def validate_login(login: str) -> str:
    """A login name for a new account (letters, digits, . _ @ -), or Invalid."""
    key = login_key(login)
    if not _LOGIN.match(key):
        raise Invalid("a login is 1-64 letters, digits, '.', '_', '@' or '-'", fields={"login": "format"})
    return key


def validate_password(password: str) -> str:
    """A new password of sensible length, or Invalid."""
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"a password needs at least {MIN_PASSWORD} characters", fields={"password": "too_short"})
    if len(password) > MAX_PASSWORD:
        raise Invalid("the password is too long", fields={"password": "too_long"})
    return password


def hash_password(password: str) -> str:
    """An argon2id hash of a password (slow on purpose: run it off the event loop)."""
    return HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether the password matches the hash (slow on purpose: run it off the event loop)."""
    if len(password) > MAX_PASSWORD:
        return False
    try:
        return HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether a stored hash was made with other parameters than today's (rehash it at the next login)."""
    try:
        return HASHER.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


@functools.cache
def dummy_hash() -> str:
    """A hash to verify against when the login is unknown, so both cases take the same time."""
    return hash_password(secrets.token_urlsafe(16))


def new_secret() -> str:
    """A random session id or CSRF token (256 bits)."""
    return secrets.token_urlsafe(32)

"""The schema, by version. Each migration runs once, in order, at start; PRAGMA user_version records it.

To change the schema, append a new version to MIGRATIONS; never edit one that has shipped.
"""

from __future__ import annotations

import sqlite3

V1 = """
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    starts_at REAL NOT NULL,
    ends_at REAL NOT NULL,
    timezone TEXT NOT NULL DEFAULT 'Asia/Tokyo',
    capacity INTEGER NOT NULL CHECK (capacity >= 0),
    venue_name TEXT NOT NULL DEFAULT '',
    venue_address TEXT NOT NULL DEFAULT '',
    map_url TEXT NOT NULL DEFAULT '',
    stream_url TEXT NOT NULL DEFAULT '',
    registration_open INTEGER NOT NULL DEFAULT 1,
    waitlist_enabled INTEGER NOT NULL DEFAULT 1,
    anonymous_watch INTEGER NOT NULL DEFAULT 0,
    purged_at REAL,
    created_at REAL NOT NULL
);

CREATE TABLE registrants (
    id INTEGER PRIMARY KEY,
    event_id INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    ref_no TEXT NOT NULL,
    name TEXT NOT NULL,
    kana TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL,
    email_key TEXT NOT NULL,
    search_key TEXT NOT NULL DEFAULT '',
    organisation TEXT NOT NULL DEFAULT '',
    mode TEXT NOT NULL CHECK (mode IN ('venue', 'online')),
    status TEXT NOT NULL CHECK (status IN ('registered', 'waitlisted', 'cancelled')),
    source TEXT NOT NULL DEFAULT 'web',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    cancelled_at REAL,
    UNIQUE (event_id, ref_no)
);
CREATE UNIQUE INDEX registrants_email ON registrants(event_id, email_key) WHERE status != 'cancelled';
CREATE INDEX registrants_seats ON registrants(event_id, mode, status);
CREATE INDEX registrants_waitlist ON registrants(event_id, status, created_at);

CREATE TABLE tickets (
    id INTEGER PRIMARY KEY,
    registrant_id INTEGER NOT NULL REFERENCES registrants(id) ON DELETE CASCADE,
    event_id INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    code TEXT NOT NULL UNIQUE,
    code_hash TEXT NOT NULL UNIQUE,
    issued_at REAL NOT NULL,
    revoked_at REAL,
    revoked_reason TEXT
);
CREATE INDEX tickets_registrant ON tickets(registrant_id);
CREATE INDEX tickets_event_issued ON tickets(event_id, issued_at);

-- One row per registrant once they first entered: the standing check-in and whether inside now.
CREATE TABLE attendance (
    registrant_id INTEGER PRIMARY KEY REFERENCES registrants(id) ON DELETE CASCADE,
    event_id INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    first_checked_in_at REAL NOT NULL,
    first_kiosk TEXT NOT NULL DEFAULT '',
    inside INTEGER NOT NULL DEFAULT 1,
    last_moved_at REAL NOT NULL
);
CREATE INDEX attendance_event ON attendance(event_id, first_checked_in_at);

-- Every scan attempt, failures too. The code only as a hash; scan_id makes a retry a no-op.
CREATE TABLE scans (
    id INTEGER PRIMARY KEY,
    event_id INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    scan_id TEXT NOT NULL,
    kiosk TEXT NOT NULL DEFAULT '',
    kiosk_id INTEGER,
    registrant_id INTEGER REFERENCES registrants(id) ON DELETE SET NULL,
    code_hash TEXT,
    method TEXT NOT NULL DEFAULT 'camera',
    direction TEXT NOT NULL DEFAULT 'in',
    result TEXT NOT NULL,
    scanned_at REAL NOT NULL,
    received_at REAL NOT NULL,
    response TEXT NOT NULL,
    UNIQUE (event_id, scan_id)
);
CREATE INDEX scans_event_time ON scans(event_id, scanned_at);
CREATE INDEX scans_registrant ON scans(registrant_id);

CREATE TABLE kiosks (
    id INTEGER PRIMARY KEY,
    event_id INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    pairing_hash TEXT,
    pairing_expires_at REAL,
    token_id INTEGER REFERENCES api_tokens(id) ON DELETE SET NULL,
    exit_mode INTEGER NOT NULL DEFAULT 0,
    last_seen_at REAL,
    queue_length INTEGER NOT NULL DEFAULT 0,
    last_scan_at REAL,
    created_at REAL NOT NULL,
    revoked_at REAL,
    UNIQUE (event_id, name)
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    login TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT 'organiser',
    created_at REAL NOT NULL,
    disabled_at REAL
);

CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    event_id INTEGER REFERENCES events(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('organiser', 'kiosk', 'dashboard')),
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL,
    revoked_at REAL,
    last_used_at REAL
);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    event_id INTEGER REFERENCES events(id) ON DELETE CASCADE,
    at REAL NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_event_time ON audit_log(event_id, at);

-- Ticket e-mails: one row per message that left, so a resumed run never sends a ticket twice.
CREATE TABLE email_sends (
    id INTEGER PRIMARY KEY,
    ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    registrant_id INTEGER NOT NULL REFERENCES registrants(id) ON DELETE CASCADE,
    kind TEXT NOT NULL DEFAULT 'ticket',
    sent_at REAL NOT NULL,
    UNIQUE (ticket_id, kind)
);

-- Online viewing: one row per continuous viewing of one viewer (a registrant or an anonymous id).
CREATE TABLE viewing_intervals (
    id INTEGER PRIMARY KEY,
    event_id INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    viewer_key TEXT NOT NULL,
    registrant_id INTEGER REFERENCES registrants(id) ON DELETE SET NULL,
    started_at REAL NOT NULL,
    last_seen_at REAL NOT NULL,
    ended_at REAL
);
CREATE INDEX viewing_event ON viewing_intervals(event_id, started_at);
CREATE INDEX viewing_open ON viewing_intervals(event_id) WHERE ended_at IS NULL;
CREATE INDEX viewing_registrant ON viewing_intervals(registrant_id);
"""

# Online viewing: at most one open interval per viewer (a start is then idempotent), and an index that
# lets the batched last-seen refresh find each viewer's open interval directly.
V6 = """
UPDATE viewing_intervals SET ended_at = last_seen_at WHERE ended_at IS NULL AND id NOT IN
    (SELECT MAX(id) FROM viewing_intervals WHERE ended_at IS NULL GROUP BY event_id, viewer_key);
CREATE UNIQUE INDEX viewing_one_open ON viewing_intervals(event_id, viewer_key) WHERE ended_at IS NULL;
"""

MIGRATIONS: list[tuple[int, str]] = [(1, V1), (6, V6)]


def migrate(conn: sqlite3.Connection) -> int:
    """Apply every migration newer than the database; return the version it is at."""
    current = int(conn.execute("PRAGMA user_version").fetchone()[0])
    for version, script in sorted(MIGRATIONS):
        if version <= current:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(script):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        current = version
    return current


def _statements(script: str) -> list[str]:
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]

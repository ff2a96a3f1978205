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

# E-mail sends: a row is claimed before a message leaves and confirmed (sent_at) after, so a run that
# dies mid-message never sends that ticket again unasked; re-sends may repeat, the ticket mail may not.
V3 = """
CREATE TABLE email_sends_v3 (
    id INTEGER PRIMARY KEY,
    ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    registrant_id INTEGER NOT NULL REFERENCES registrants(id) ON DELETE CASCADE,
    kind TEXT NOT NULL DEFAULT 'ticket',
    claimed_at REAL NOT NULL,
    sent_at REAL
);
INSERT INTO email_sends_v3 (id, ticket_id, registrant_id, kind, claimed_at, sent_at)
    SELECT id, ticket_id, registrant_id, kind, sent_at, sent_at FROM email_sends;
DROP TABLE email_sends;
ALTER TABLE email_sends_v3 RENAME TO email_sends;
CREATE UNIQUE INDEX email_sends_once ON email_sends(ticket_id) WHERE kind IN ('ticket', 'promoted');
CREATE INDEX email_sends_registrant ON email_sends(registrant_id, kind, claimed_at);
"""

# Staff logins: failed attempts per login, for throttling (kept only for the throttle window).
V4 = """
CREATE TABLE login_failures (
    id INTEGER PRIMARY KEY,
    login_key TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX login_failures_key ON login_failures(login_key, at);
"""

# The door: exact venue counts kept by triggers (no COUNT(*) per scan), and a change sequence per
# registrant so kiosks can fetch only what changed since their last sync (whoever made the change).
V5 = """
CREATE TABLE attendance_counts (
    event_id INTEGER PRIMARY KEY REFERENCES events(id) ON DELETE CASCADE,
    checked_in INTEGER NOT NULL DEFAULT 0,
    in_hall INTEGER NOT NULL DEFAULT 0
);
INSERT INTO attendance_counts (event_id, checked_in, in_hall)
    SELECT e.id, COUNT(a.registrant_id), COALESCE(SUM(a.inside), 0) FROM events e
    LEFT JOIN attendance a ON a.event_id = e.id GROUP BY e.id;

CREATE TRIGGER attendance_counts_event AFTER INSERT ON events BEGIN
    INSERT INTO attendance_counts (event_id) VALUES (NEW.id);
END;
CREATE TRIGGER attendance_counts_insert AFTER INSERT ON attendance BEGIN
    UPDATE attendance_counts SET checked_in = checked_in + 1, in_hall = in_hall + NEW.inside
        WHERE event_id = NEW.event_id;
END;
CREATE TRIGGER attendance_counts_update AFTER UPDATE OF inside ON attendance BEGIN
    UPDATE attendance_counts SET in_hall = in_hall + NEW.inside - OLD.inside WHERE event_id = NEW.event_id;
END;
CREATE TRIGGER attendance_counts_delete AFTER DELETE ON attendance BEGIN
    UPDATE attendance_counts SET checked_in = checked_in - 1, in_hall = in_hall - OLD.inside
        WHERE event_id = OLD.event_id;
END;

-- seq grows with every change a kiosk must learn of; reset_seq moves when rows disappear, which a
-- delta cannot express, so older cursors get a full copy.
CREATE TABLE sync_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    reset_seq INTEGER NOT NULL
);
INSERT INTO sync_state (id, seq, reset_seq) VALUES (1, 1, 1);
ALTER TABLE registrants ADD COLUMN sync_seq INTEGER NOT NULL DEFAULT 1;
CREATE INDEX registrants_sync ON registrants(event_id, sync_seq);

CREATE TRIGGER sync_registrant_insert AFTER INSERT ON registrants BEGIN
    UPDATE sync_state SET seq = seq + 1;
    UPDATE registrants SET sync_seq = (SELECT seq FROM sync_state) WHERE id = NEW.id;
END;
CREATE TRIGGER sync_registrant_update AFTER UPDATE OF ref_no, name, kana, organisation, mode, status
    ON registrants BEGIN
    UPDATE sync_state SET seq = seq + 1;
    UPDATE registrants SET sync_seq = (SELECT seq FROM sync_state) WHERE id = NEW.id;
END;
CREATE TRIGGER sync_registrant_delete AFTER DELETE ON registrants BEGIN
    UPDATE sync_state SET seq = seq + 1, reset_seq = seq + 1;
END;
CREATE TRIGGER sync_ticket_insert AFTER INSERT ON tickets BEGIN
    UPDATE sync_state SET seq = seq + 1;
    UPDATE registrants SET sync_seq = (SELECT seq FROM sync_state) WHERE id = NEW.registrant_id;
END;
CREATE TRIGGER sync_ticket_update AFTER UPDATE OF revoked_at ON tickets BEGIN
    UPDATE sync_state SET seq = seq + 1;
    UPDATE registrants SET sync_seq = (SELECT seq FROM sync_state) WHERE id = NEW.registrant_id;
END;
CREATE TRIGGER sync_ticket_delete AFTER DELETE ON tickets BEGIN
    UPDATE sync_state SET seq = seq + 1, reset_seq = seq + 1;
END;
CREATE TRIGGER sync_attendance_insert AFTER INSERT ON attendance BEGIN
    UPDATE sync_state SET seq = seq + 1;
    UPDATE registrants SET sync_seq = (SELECT seq FROM sync_state) WHERE id = NEW.registrant_id;
END;
CREATE TRIGGER sync_attendance_update AFTER UPDATE OF first_checked_in_at, inside ON attendance BEGIN
    UPDATE sync_state SET seq = seq + 1;
    UPDATE registrants SET sync_seq = (SELECT seq FROM sync_state) WHERE id = NEW.registrant_id;
END;
CREATE TRIGGER sync_attendance_delete AFTER DELETE ON attendance BEGIN
    UPDATE sync_state SET seq = seq + 1;
    UPDATE registrants SET sync_seq = (SELECT seq FROM sync_state) WHERE id = OLD.registrant_id;
END;
"""

# Online viewing: at most one open interval per viewer (a start is then idempotent), and an index that
# lets the batched last-seen refresh find each viewer's open interval directly.
V6 = """
UPDATE viewing_intervals SET ended_at = last_seen_at WHERE ended_at IS NULL AND id NOT IN
    (SELECT MAX(id) FROM viewing_intervals WHERE ended_at IS NULL GROUP BY event_id, viewer_key);
CREATE UNIQUE INDEX viewing_one_open ON viewing_intervals(event_id, viewer_key) WHERE ended_at IS NULL;
"""

# The dashboard: each kiosk's scans and latest scan kept by trigger, so a snapshot (up to five a second
# during a rush) reads one row per kiosk instead of counting the whole scan log.
V7 = """
CREATE TABLE kiosk_scan_totals (
    kiosk_id INTEGER PRIMARY KEY,
    scans INTEGER NOT NULL DEFAULT 0,
    last_scan_at REAL
);
INSERT INTO kiosk_scan_totals (kiosk_id, scans, last_scan_at)
    SELECT kiosk_id, COUNT(*), MAX(scanned_at) FROM scans WHERE kiosk_id IS NOT NULL GROUP BY kiosk_id;
CREATE TRIGGER kiosk_scan_totals_insert AFTER INSERT ON scans WHEN NEW.kiosk_id IS NOT NULL BEGIN
    INSERT INTO kiosk_scan_totals (kiosk_id, scans, last_scan_at) VALUES (NEW.kiosk_id, 1, NEW.scanned_at)
        ON CONFLICT (kiosk_id) DO UPDATE SET scans = scans + 1,
        last_scan_at = MAX(COALESCE(last_scan_at, excluded.last_scan_at), excluded.last_scan_at);
END;
"""

# Hostile clients: the address each web registration came from (staff-only, emptied by purge), so
# organisers can see a burst from one address; failed logins are counted by the request limits
# (checkin.ratelimit) and kept in the audit log, so their table goes.
V8 = """
ALTER TABLE registrants ADD COLUMN client_address TEXT;
CREATE INDEX registrants_address ON registrants(event_id, client_address) WHERE client_address IS NOT NULL;
DROP TABLE IF EXISTS login_failures;
"""

# Online viewing across crashes: each server process writes one heartbeat row every few seconds (not
# a write per viewer), and each open viewing names the server that watches it; a viewing left open by
# a server that died is closed at that server's last heartbeat.
V10 = """
CREATE TABLE server_heartbeats (
    server_id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at REAL NOT NULL,
    last_seen_at REAL NOT NULL
);
ALTER TABLE viewing_intervals ADD COLUMN server_id TEXT;
"""

# The projector (a dashboard token) shows the names of the latest check-ins only where the event allows it.
V9 = """
ALTER TABLE events ADD COLUMN projector_names INTEGER NOT NULL DEFAULT 0;
"""

# Kiosks: the camera frames each decoded per second at its last heartbeat (NULL: it did not say),
# so the dashboard shows a tablet too slow to read codes quickly.
V11 = """
ALTER TABLE kiosks ADD COLUMN decode_fps REAL;
"""

# What the flyer says about an event (Japanese, with optional English), and the public base URL its
# ticket links use. Plain columns: the programme is text with one item a line.
V13 = """
ALTER TABLE events ADD COLUMN title_en TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN summary TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN summary_en TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN fee TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN fee_en TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN organisers TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN organisers_en TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN programme TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN programme_en TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN deadline TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN deadline_en TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN doors_open_at REAL;
ALTER TABLE events ADD COLUMN access TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN access_en TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN contact TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN contact_en TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN base_url TEXT NOT NULL DEFAULT '';
"""

# The hall capacity (people in the hall at once) apart from the seats the form gives; NULL: the same.
V14 = """
ALTER TABLE events ADD COLUMN hall_capacity INTEGER CHECK (hall_capacity IS NULL OR hall_capacity >= 0);
"""

# The open viewings of an event are found through viewing_one_open (event_id, viewer_key), whose first column
# serves "this event's open viewings" as well. viewing_open (event_id) did nothing more, and on PostgreSQL,
# before statistics are gathered (the first minutes of a day), the planner took it for one viewer's viewing
# too: every start, end and hand-over then walked all the event's open viewings (40 ms each at 10,000).
V15 = """
DROP INDEX viewing_open;
"""

# A viewer's viewings, open or not: the dashboard counts the viewers new since its last full count by looking
# each new viewing's viewer up here, instead of counting every viewing's viewer again (35 ms at 50,000).
V16 = """
CREATE INDEX viewing_viewer ON viewing_intervals(event_id, viewer_key);
"""

MIGRATIONS: list[tuple[int, str]] = [
    (1, V1),
    (3, V3),
    (4, V4),
    (5, V5),
    (6, V6),
    (7, V7),
    (8, V8),
    (9, V9),
    (10, V10),
    (11, V11),
    (13, V13),
    (14, V14),
    (15, V15),
    (16, V16),
]


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
    """Split a script into statements; a trigger body's inner semicolons stay in its statement."""
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    statements: list[str] = []
    pending = ""
    for part in "\n".join(lines).split(";"):
        pending += part + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                statements.append(pending.strip().rstrip(";").strip())
            pending = ""
    return statements

"""One typed settings object, read from the environment (CHECKIN_*) with laptop defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _switch(value: str, name: str) -> bool:
    """`on` or `off` (also 1/0, true/false, yes/no); anything else is a mistake worth stopping for."""
    word = value.strip().lower()
    if word in {"on", "1", "true", "yes"}:
        return True
    if word in {"off", "0", "false", "no"}:
        return False
    raise ValueError(f"{name} must be on or off, not {value!r}")


def is_database_url(value: str) -> bool:
    """A PostgreSQL URL rather than a file path."""
    return value.startswith(("postgresql://", "postgres://"))


def redacted(url: str) -> str:
    """A database URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")).geturl()


def _redis_url(value: str) -> str:
    """A Redis URL (redis://, rediss:// or unix://), or empty; anything else is a mistake worth stopping for."""
    url = value.strip()
    if url and not url.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError(f"CHECKIN_REDIS_URL must start with redis://, rediss:// or unix://, not {url!r}")
    return url


@dataclass(frozen=True)
class SmtpSettings:
    """Where ticket e-mail goes; with no host, messages are written to the outbox folder."""

    host: str = ""
    port: int = 587
    security: str = "starttls"  # "starttls", "tls" or "none"
    username: str = ""
    password: str = ""
    sender: str = "checkin <noreply@localhost>"
    outbox: Path = Path("outbox")


@dataclass(frozen=True)
class Settings:
    """Everything the server and the commands need to know."""

    db_path: Path = Path("checkin.db")
    # A postgresql://user@host:port/dbname URL (CHECKIN_DB or --db): PostgreSQL instead of the SQLite file.
    db_url: str = ""
    # PostgreSQL: connections (and threads) of this process; every write is its own transaction.
    pg_pool_size: int = 8
    base_url: str = "http://127.0.0.1:8000"
    sqlite_synchronous: str = "FULL"
    max_body_bytes: int = 64 * 1024
    max_upload_bytes: int = 5 * 1024 * 1024
    secure_cookies: bool = False
    qr_workers: int = 2
    # Online viewers: a viewing ends this long after its last watching connection stopped (reloads,
    # short drops); the server's heartbeat (the last sign of life of every viewing it watches, one row)
    # is written this often; dead sockets are found by websocket ping within interval + timeout;
    # connections beyond the cap are turned away.
    watch_grace: float = 12.0
    watch_heartbeat: float = 5.0
    watch_max_connections: int = 20_000
    ws_ping_interval: float = 15.0
    ws_ping_timeout: float = 15.0
    # Dashboards: at most one snapshot per event this often (a rush of changes is coalesced).
    dashboard_interval: float = 0.2
    # Per-client-address limits (registration, re-send, pairing, search, anonymous viewers,
    # connections): all on, or all off for load tests and rehearsals from one address.
    rate_limits: bool = True
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (addresses or networks, e.g.
    # "127.0.0.1" behind a local nginx); empty: the peer address is the client's.
    trusted_proxies: tuple[str, ...] = ()
    # Open connections per client address (HTTP by the peer unless it is a trusted proxy; websockets by
    # the forwarded address). A browser keeps at most 6 HTTP connections to a host, idle ones close after
    # 5 s and a viewer holds one socket: 256 leaves room for hundreds of phones behind a venue's or an
    # office's NAT while bounding what one machine can hold open.
    max_connections_per_address: int = 256
    # Seconds a client has to send a request's headers, from connecting or from the previous response
    # (slow clients holding connections open are dropped; real ones send them in milliseconds).
    header_timeout: float = 10.0
    # New connections one address may open per second (a burst of ten seconds' worth first): a client
    # reconnecting in a loop is turned away before anything of its request is parsed, while an office of
    # a hundred people opening the event page at once (six connections each) stays inside the burst.
    new_connections_per_second: float = 100.0
    # Anonymous viewers of one event present at once from one client address: an office where many
    # colleagues watch on the anonymous page shares one address; beyond this, new ids are refused (4429).
    max_anonymous_per_address: int = 50
    # Redis shared by several server processes (redis://host:port/N): the live hub, viewer presence and the
    # per-address limits then count across all of them. Empty: everything live stays in this process.
    redis_url: str = ""
    # Every key this deployment writes starts with this, so several deployments (or tests) share one Redis.
    redis_prefix: str = "checkin:"
    smtp: SmtpSettings = field(default_factory=SmtpSettings)

    def with_db(self, db: Path | str) -> Settings:
        """A copy that uses another database: a file path (SQLite) or a postgresql:// URL."""
        if is_database_url(str(db)):
            return replace(self, db_url=str(db))
        return replace(self, db_path=Path(db), db_url="")

    @property
    def db(self) -> str:
        """The database as CHECKIN_DB names it: the postgresql:// URL, else the file."""
        return self.db_url or str(self.db_path)

    @property
    def database(self) -> str:
        """The database, as messages name it (a URL without its password)."""
        return redacted(self.db_url) if self.db_url else str(self.db_path)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read CHECKIN_* variables; anything missing keeps its default."""
        env = os.environ if environ is None else environ
        smtp = SmtpSettings(
            host=env.get("CHECKIN_SMTP_HOST", ""),
            port=int(env.get("CHECKIN_SMTP_PORT", "587")),
            security=env.get("CHECKIN_SMTP_SECURITY", "starttls").lower(),
            username=env.get("CHECKIN_SMTP_USER", ""),
            password=env.get("CHECKIN_SMTP_PASSWORD", ""),
            sender=env.get("CHECKIN_SMTP_FROM", SmtpSettings.sender),
            outbox=Path(env.get("CHECKIN_OUTBOX", "outbox")),
        )
        return cls(
            pg_pool_size=int(env.get("CHECKIN_PG_POOL_SIZE", str(cls.pg_pool_size))),
            base_url=env.get("CHECKIN_BASE_URL", cls.base_url).rstrip("/"),
            sqlite_synchronous=env.get("CHECKIN_SQLITE_SYNCHRONOUS", "FULL").upper(),
            max_body_bytes=int(env.get("CHECKIN_MAX_BODY_BYTES", str(cls.max_body_bytes))),
            max_upload_bytes=int(env.get("CHECKIN_MAX_UPLOAD_BYTES", str(cls.max_upload_bytes))),
            secure_cookies=_bool(env.get("CHECKIN_SECURE_COOKIES", "0")),
            qr_workers=int(env.get("CHECKIN_QR_WORKERS", "2")),
            watch_grace=float(env.get("CHECKIN_WATCH_GRACE", str(cls.watch_grace))),
            watch_max_connections=int(env.get("CHECKIN_WATCH_MAX_CONNECTIONS", str(cls.watch_max_connections))),
            dashboard_interval=float(env.get("CHECKIN_DASHBOARD_INTERVAL", str(cls.dashboard_interval))),
            rate_limits=_switch(env.get("CHECKIN_RATE_LIMITS", "on"), "CHECKIN_RATE_LIMITS"),
            trusted_proxies=tuple(p.strip() for p in env.get("CHECKIN_TRUSTED_PROXIES", "").split(",") if p.strip()),
            max_connections_per_address=int(
                env.get("CHECKIN_MAX_CONNECTIONS_PER_ADDRESS", str(cls.max_connections_per_address))
            ),
            header_timeout=float(env.get("CHECKIN_HEADER_TIMEOUT", str(cls.header_timeout))),
            new_connections_per_second=float(
                env.get("CHECKIN_NEW_CONNECTIONS_PER_SECOND", str(cls.new_connections_per_second))
            ),
            max_anonymous_per_address=int(
                env.get("CHECKIN_MAX_ANONYMOUS_PER_ADDRESS", str(cls.max_anonymous_per_address))
            ),
            redis_url=_redis_url(env.get("CHECKIN_REDIS_URL", "")),
            redis_prefix=env.get("CHECKIN_REDIS_PREFIX", cls.redis_prefix),
            smtp=smtp,
        ).with_db(env.get("CHECKIN_DB", "checkin.db"))

"""Connections from clients that hold them open on purpose: a header deadline and per-address caps.

uvicorn waits for a request's headers for as long as the client likes, and takes any number of
connections from one address: a few hundred sockets trickling a request line ("slowloris") stay open
for good. `GuardedHttpProtocol` (uvicorn's httptools protocol, passed as `http=` by `checkin serve`)
drops a connection whose headers are not complete within `header_timeout` of connecting or of the
previous response, and answers 429 to a peer already holding `max_connections_per_address`.
Connections from a trusted proxy are not counted by peer (the proxy stands for many clients and
limits them itself); a websocket leaves this count when it is upgraded and is counted by its client's
forwarded address instead (`checkin.web.watch.WatchSockets`).
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable
from typing import Any

from uvicorn.config import Config
from uvicorn.middleware.proxy_headers import _TrustedHosts
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from checkin.settings import Settings

REFUSAL = json.dumps(
    {"error": "too_many_connections", "message": "too many open connections from this address"}
).encode()


class AddressCounts:
    """Open connections per client address, refused past a cap (none when the cap is None)."""

    __slots__ = ("cap", "counts")

    def __init__(self, cap: int | None) -> None:
        self.cap = cap
        self.counts: dict[str, int] = {}

    def take(self, address: str) -> bool:
        """Count one more connection of this address; False (and not counted) if it is at the cap."""
        if self.cap is None:
            return True
        held = self.counts.get(address, 0)
        if held >= self.cap:
            return False
        self.counts[address] = held + 1
        return True

    def release(self, address: str) -> None:
        """A connection `take` counted has closed."""
        if self.cap is None:
            return
        held = self.counts.get(address, 0) - 1
        if held > 0:
            self.counts[address] = held
        else:
            self.counts.pop(address, None)


class ConnectionRate:
    """New connections per address: a bucket of `burst` that refills at `rate` a second (None: no limit).

    A client that reconnects in a loop (each time refused, or closed by its own doing) makes the server
    accept and set up a connection every time; past its bucket it is turned away at once, which costs a
    fraction of a handshake. Full buckets are forgotten now and then, so idle addresses cost nothing.
    """

    __slots__ = ("buckets", "burst", "rate")

    def __init__(self, rate: float | None) -> None:
        self.rate = rate
        self.burst = 10 * rate if rate else 0.0
        self.buckets: dict[str, tuple[float, float]] = {}  # address -> (tokens, at)

    def allow(self, address: str, now: float) -> bool:
        """Whether this address may open one more connection now (and count it)."""
        if self.rate is None:
            return True
        tokens, at = self.buckets.get(address, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        if tokens < 1:
            self.buckets[address] = (tokens, now)
            return False
        self.buckets[address] = (tokens - 1, now)
        if len(self.buckets) > 10_000:
            self._forget_full(now)
        return True

    def _forget_full(self, now: float) -> None:
        assert self.rate is not None
        refill = self.burst / self.rate
        self.buckets = {a: (t, at) for a, (t, at) in self.buckets.items() if now - at < refill}


def address_cap(settings: Settings) -> int | None:
    """The per-address connection cap, or None when per-address limits are off (CHECKIN_RATE_LIMITS=off)."""
    return settings.max_connections_per_address if settings.rate_limits else None


def address_counts(settings: Settings, kind: str) -> AddressCounts:
    """Open connections per address under the cap: counted across servers when they share Redis."""
    if not settings.redis_url:
        return AddressCounts(address_cap(settings))
    from checkin.shared.connections import SharedAddressCounts  # builds on this module

    return SharedAddressCounts(address_cap(settings), settings.redis_url, settings.redis_prefix, kind)


def connection_rate(settings: Settings) -> ConnectionRate:
    """New connections per address and second: counted across servers when they share Redis."""
    rate = settings.new_connections_per_second if settings.rate_limits else None
    if not settings.redis_url:
        return ConnectionRate(rate)
    from checkin.shared.connections import SharedConnectionRate

    return SharedConnectionRate(rate, settings.redis_url, settings.redis_prefix)


class ConnectionGuard:
    """What one server's HTTP connections share: the peers' counts, the trusted proxies, the deadline."""

    __slots__ = ("header_timeout", "peers", "proxies", "rate")

    def __init__(self, settings: Settings) -> None:
        self.header_timeout = settings.header_timeout
        self.peers = address_counts(settings, "http")
        self.rate = connection_rate(settings)
        self.proxies = _TrustedHosts(list(settings.trusted_proxies))


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol with a deadline for each request's headers and a cap per peer address."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        guard: ConnectionGuard,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.guard = guard
        self.counted: str | None = None  # the peer address this connection is counted under
        self.header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        peer = self.client[0] if self.client else None
        if peer is not None and peer not in self.guard.proxies:
            if not self.guard.rate.allow(peer, self.loop.time()) or not self.guard.peers.take(peer):
                self._refuse()
                return
            self.counted = peer
        self._await_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_timer()
        self._release()
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        self._stop_header_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._await_headers()

    def handle_websocket_upgrade(self) -> None:
        self._stop_header_timer()
        self._release()  # from here on the socket is counted by its client's address, proxy or not
        super().handle_websocket_upgrade()

    def _await_headers(self) -> None:
        self._stop_header_timer()
        self.header_timer = self.loop.call_later(self.guard.header_timeout, self._headers_late)

    def _headers_late(self) -> None:
        self.header_timer = None
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being answered; the next deadline starts with its response
        self.transport.close()

    def _stop_header_timer(self) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None

    def _release(self) -> None:
        if self.counted is not None:
            self.guard.peers.release(self.counted)
            self.counted = None

    def _refuse(self) -> None:
        """429 before reading anything: this address holds, or has just opened, as many connections as it may."""
        head = (
            b"HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\nretry-after: 5\r\n"
            b"connection: close\r\ncontent-length: " + str(len(REFUSAL)).encode() + b"\r\n\r\n"
        )
        self.transport.write(head + REFUSAL)
        self.transport.close()


def http_protocol(settings: Settings) -> Callable[..., asyncio.Protocol]:
    """The HTTP protocol factory uvicorn is given (`http=`): one guard shared by this server's connections."""
    return functools.partial(GuardedHttpProtocol, guard=ConnectionGuard(settings))

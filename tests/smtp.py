"""A real SMTP server for tests and benchmarks: aiosmtpd on a free port, keeping what it receives."""

from __future__ import annotations

import contextlib
import email
import email.policy
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.utils import free_port


@dataclass
class SmtpSink:
    """Handler that stores each message; can refuse recipients, or start answering 421 after some messages."""

    port: int = 0
    received: list[tuple[list[str], bytes]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    closing_after: int | None = None
    login: tuple[str, str] | None = None
    connections: set[tuple[str, int]] = field(default_factory=set)  # the client address of each session

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.connections.add(tuple(session.peer))
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.closing_after is not None and len(self.received) >= self.closing_after:
            return "421 4.3.2 service shutting down"
        self.received.append((list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 2.0.0 accepted"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login.decode(), data.password.decode()) == self.login
        return AuthResult(success=ok)

    def messages(self) -> list[EmailMessage]:
        """What arrived, parsed (headers decoded)."""
        return [
            email.message_from_bytes(raw, _class=EmailMessage, policy=email.policy.default)  # type: ignore[misc]
            for _, raw in self.received
        ]

    def recipients(self) -> list[str]:
        return [address for tos, _ in self.received for address in tos]


@contextlib.contextmanager
def smtp_server(sink: SmtpSink | None = None) -> Iterator[SmtpSink]:
    """aiosmtpd in its own thread on 127.0.0.1 until the block ends."""
    sink = sink or SmtpSink()
    sink.port = free_port()
    extra: dict[str, Any] = {}
    if sink.login is not None:
        extra = {"authenticator": sink.authenticate, "auth_require_tls": False, "auth_required": True}
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port, **extra)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()

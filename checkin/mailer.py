"""Sending ticket e-mail: SMTP (or the outbox folder), once per ticket, off the event loop.

Every message is claimed in `email_sends` before it leaves and confirmed after the server accepted
it (`checkin.storage.mail`), so the same ticket never goes to one person twice, even across a killed
run. Composing (QR rendering) and SMTP run on the services' thread pool, never on the loop.
Logs name reference numbers only, never addresses.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import os
import smtplib
import ssl
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Protocol, cast

from checkin.errors import DeliveryError
from checkin.models import Event
from checkin.registration import envelope_address
from checkin.services import Services
from checkin.settings import SmtpSettings
from checkin.storage import mail as store
from checkin.storage.mail import Outgoing
from checkin.storage.registrants import Registration
from checkin.text import email_key
from checkin.ticketmail import compose

log = logging.getLogger("checkin.mail")
IDLE_CHECK = 10.0  # seconds after which a kept SMTP connection is checked before reuse
SECURITY = ("starttls", "tls", "none")


class Transport(Protocol):
    def send(self, message: Message, name: str, recipient: str) -> None: ...

    def close(self) -> None: ...


class SmtpTransport:
    """One SMTP connection, opened on first use and reused for the messages that follow."""

    def __init__(self, settings: SmtpSettings) -> None:
        if settings.security not in SECURITY:
            raise ValueError(f"CHECKIN_SMTP_SECURITY must be one of {', '.join(SECURITY)}")
        self.settings = settings
        self._conn: smtplib.SMTP | None = None
        self._used_at = 0.0

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        context = ssl.create_default_context()
        try:
            if s.security == "tls":
                conn: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=30, context=context)
            else:
                conn = smtplib.SMTP(s.host, s.port, timeout=30)
            conn.ehlo()
            if s.security == "starttls":
                conn.starttls(context=context)
                conn.ehlo()
            if s.username:
                conn.login(s.username, s.password)
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"cannot reach the SMTP server: {exc}", certain=True, connection=True) from exc
        return conn

    def _ready(self) -> smtplib.SMTP:
        """The kept connection if it still answers, else a new one (no message is lost either way)."""
        if self._conn is not None and time.monotonic() - self._used_at > IDLE_CHECK:
            try:
                self._conn.noop()
            except (smtplib.SMTPException, OSError):
                self._conn = None
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    def send(self, message: Message, name: str, recipient: str) -> None:
        """Send to exactly `recipient` (the envelope), whatever the message's headers say."""
        if not self._attempt(message, recipient) and not self._attempt(message, recipient):
            raise DeliveryError("the SMTP server keeps closing the connection (421)", certain=True, connection=True)

    def _attempt(self, message: Message, recipient: str) -> bool:
        """Send once; False when the server said it is closing (421: nothing accepted, try a new connection)."""
        conn = self._ready()
        try:
            conn.send_message(message, to_addrs=[recipient])
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(_refusal(exc.recipients.values()), certain=True, connection=False) from exc
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code == 421:
                self._conn = None
                return False
            raise DeliveryError(_refusal([(exc.smtp_code, exc.smtp_error)]), certain=True, connection=False) from exc
        except (smtplib.SMTPException, OSError) as exc:
            self._conn = None
            raise DeliveryError(f"connection lost while sending: {exc}", certain=False, connection=True) from exc
        self._used_at = time.monotonic()
        return True

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.quit()
            except (smtplib.SMTPException, OSError):
                self._conn.close()
            self._conn = None


def _refusal(replies: Iterable[tuple[int, bytes | str]]) -> str:
    texts = [f"{code} {text.decode(errors='replace') if isinstance(text, bytes) else text}" for code, text in replies]
    return "refused: " + "; ".join(texts)


class OutboxTransport:
    """Writes each message as an `.eml` file into a folder (no SMTP server configured)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, message: Message, name: str, recipient: str) -> None:
        # A name that is not one plain file name (an event slug from an old database, say) could point
        # outside the folder: refused, whatever validated it before.
        if not name or Path(name).name != name or name.startswith(".") or "\\" in name or "\x00" in name:
            raise DeliveryError(f"not a file name for the outbox: {name!r}", certain=True, connection=True)
        target = self.folder / f"{name}.eml"
        partial = target.with_suffix(".part")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            partial.write_bytes(message.as_bytes())
            os.replace(partial, target)
        except OSError as exc:
            raise DeliveryError(f"cannot write to the outbox: {exc}", certain=True, connection=True) from exc

    def close(self) -> None:
        return None


def open_transport(settings: SmtpSettings) -> Transport:
    """SMTP when a host is configured, else the outbox folder. Nothing connects until the first send."""
    return SmtpTransport(settings) if settings.host else OutboxTransport(settings.outbox)


class Result(enum.StrEnum):
    SENT = "sent"
    SKIPPED = "skipped"  # already sent, or re-sent too recently
    FAILED = "failed"


@dataclass(frozen=True)
class Outcome:
    """What happened to one message; `reason` for a failure, `connection` when the server is the trouble."""

    ref_no: str
    result: Result
    reason: str = ""
    connection: bool = False


@dataclass(frozen=True)
class Prepared:
    """A claimed and composed message (`send_id` None: already sent; `problem`: it could not be written)."""

    item: Outgoing
    kind: str
    send_id: int | None = None
    message: Message | None = None
    recipient: str = ""
    problem: DeliveryError | None = None


def _compose(services: Services, event: Event, item: Outgoing, kind: str) -> tuple[Message, str]:
    """The message and its one envelope recipient, the stored address validated again."""
    settings = services.settings
    try:
        recipient = envelope_address(item.registrant.email)
        message = compose(
            event, item.registrant, item.ticket, kind=kind, base_url=settings.base_url,
            sender=settings.smtp.sender, now=services.now(), recipient=recipient,
        )  # fmt: skip
    except Exception as exc:  # e.g. a stored address that is not one address: certainly not sent
        raise DeliveryError(f"cannot write this message: {exc}", certain=True, connection=False) from exc
    return message, recipient


async def prepare(services: Services, event: Event, item: Outgoing, kind: str) -> Prepared:
    """Claim the message, then compose it (QR rendering) on the thread pool."""
    send_id = await services.writes.store(store.claim, item, kind, services.now())
    if send_id is None:
        return Prepared(item, kind)
    loop = asyncio.get_running_loop()
    try:
        message, recipient = await loop.run_in_executor(services.blocking, _compose, services, event, item, kind)
    except DeliveryError as exc:
        return Prepared(item, kind, send_id, problem=exc)
    return Prepared(item, kind, send_id, message, recipient)


async def finish(services: Services, transport: Transport, event: Event, prepared: Prepared) -> Outcome:
    """Send a prepared message and confirm it; a refused message is released so it can be sent again."""
    ref_no = prepared.item.registrant.ref_no
    if prepared.send_id is None:
        return Outcome(ref_no, Result.SKIPPED)
    problem = prepared.problem
    if prepared.message is not None:
        name = f"{event.slug}-{prepared.send_id:07d}-{prepared.kind}"
        try:
            await asyncio.get_running_loop().run_in_executor(
                services.blocking, transport.send, prepared.message, name, prepared.recipient
            )
        except DeliveryError as exc:
            problem = exc
    if problem is not None:
        if problem.certain:
            await services.writes.store(store.release, prepared.send_id)
        log.warning("ticket mail to %s (%s) failed: %s", ref_no, prepared.kind, problem.reason)
        return Outcome(ref_no, Result.FAILED, problem.reason, problem.connection)
    await services.writes.store(store.confirm, prepared.send_id, services.now())
    return Outcome(ref_no, Result.SENT)


async def discard(services: Services, prepared: Prepared) -> None:
    """Release a claim whose message was never handed to the server."""
    if prepared.send_id is not None:
        await services.writes.store(store.release, prepared.send_id)


async def deliver(services: Services, transport: Transport, event: Event, item: Outgoing, kind: str) -> Outcome:
    """Claim, compose, send and confirm one message."""
    return await finish(services, transport, event, await prepare(services, event, item, kind))


async def deliver_all(services: Services, event: Event, items: Sequence[Outgoing], kind: str) -> list[Outcome]:
    """Send a few messages over one of the server's kept connections, waiting for a free one."""
    async with services.mail_connections.use(lambda: open_transport(services.settings.smtp)) as connection:
        transport = cast(Transport, connection)
        return [await deliver(services, transport, event, item, kind) for item in items]


async def send_ticket(services: Services, event: Event, registration: Registration) -> Outcome | None:
    """E-mail a new registrant their ticket (None while waitlisted: no ticket yet)."""
    if registration.ticket is None:
        return None
    outgoing = Outgoing(registration.registrant, registration.ticket)
    return (await deliver_all(services, event, [outgoing], "ticket"))[0]


async def notify_promoted(services: Services, event: Event, registrations: Sequence[Registration]) -> list[Outcome]:
    """Tell the people moved up from the waiting list (after the cancellation committed), with their new ticket."""
    items = [Outgoing(r.registrant, r.ticket) for r in registrations if r.ticket is not None]
    return await deliver_all(services, event, items, "promoted") if items else []


async def resend(services: Services, event: Event, email: str) -> Outcome | None:
    """Re-send the current ticket of the registrant with this address; None when there is none.

    Callers answer the same whatever this returns, so nobody learns who registered.
    """
    item = await services.db.read(store.for_resend, event.id, email_key(email))
    if item is None:
        return None
    return (await deliver_all(services, event, [item], "resend"))[0]


@dataclass
class BulkReport:
    """The outcome of `send_unsent`: counts, failures by reference number, and why it stopped early."""

    total: int = 0
    sent: int = 0
    skipped: int = 0
    failures: list[Outcome] = field(default_factory=list)
    aborted: str = ""
    stopped: bool = False


async def send_unsent(
    services: Services,
    event: Event,
    items: Sequence[Outgoing],
    *,
    on_progress: Callable[[int, Outcome], None] = lambda done, outcome: None,
    stop: asyncio.Event | None = None,
) -> BulkReport:
    """Send each ticket once over one kept connection; refusals are reported, a dead server ends the run.

    The next message is claimed and composed while the current one is being sent and confirmed, so
    the QR rendering overlaps the SMTP exchange and the two commits share one disk sync.
    """
    report = BulkReport(total=len(items))
    transport = open_transport(services.settings.smtp)
    upcoming: asyncio.Task[Prepared] | None = None
    try:
        for done, item in enumerate(items, start=1):
            current = await upcoming if upcoming is not None else await prepare(services, event, item, "ticket")
            upcoming = None
            if stop is not None and stop.is_set():
                report.stopped = True
                await discard(services, current)
                break
            if done < len(items):
                upcoming = asyncio.create_task(prepare(services, event, items[done], "ticket"))
            outcome = await finish(services, transport, event, current)
            on_progress(done, outcome)
            if outcome.result is Result.SENT:
                report.sent += 1
            elif outcome.result is Result.SKIPPED:
                report.skipped += 1
            else:
                report.failures.append(outcome)
                if outcome.connection:
                    report.aborted = outcome.reason
                    break
    finally:
        if upcoming is not None:
            await discard(services, await upcoming)
        await asyncio.get_running_loop().run_in_executor(services.blocking, transport.close)
    return report

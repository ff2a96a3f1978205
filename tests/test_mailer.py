"""Ticket e-mail through a real SMTP server (aiosmtpd): structure, once per ticket, outbox, promotions."""

from __future__ import annotations

import contextlib
import email
import email.policy
import io
from collections.abc import Iterator
from dataclasses import replace
from email.message import EmailMessage, Message

import pytest
from PIL import Image

from checkin import mailer
from checkin.errors import DeliveryError
from checkin.mailer import Result
from checkin.models import Event, Mode
from checkin.registration import Application
from checkin.services import Services, build
from checkin.settings import Settings
from checkin.storage import mail as mailstore
from checkin.storage import registrants as store
from checkin.storage.registrants import Registration
from tests.conftest import seed_event
from tests.smtp import SmtpSink, smtp_server
from tests.utils import EVENT

SAKI = Application("髙橋 﨑子", "タカハシ サキコ", "saki@example.jp", "総務省", Mode.ONLINE)


def person(number: int, mode: Mode = Mode.VENUE) -> Application:
    return Application(f"山﨑 太郎{number}", "ヤマサキ タロウ", f"p{number}@example.jp", "", mode)


@contextlib.contextmanager
def running(settings: Settings) -> Iterator[Services]:
    """Started services for these settings, stopped after the block."""
    svc = build(settings)
    svc.start()
    try:
        yield svc
    finally:
        svc.stop()


@pytest.fixture
def services(settings: Settings, event: Event) -> Iterator[Services]:
    """Started services on the test database (e-mail to the outbox folder)."""
    with running(settings) as svc:
        yield svc


@pytest.fixture
def smtp_services(smtp_settings: Settings, event: Event) -> Iterator[Services]:
    """Started services sending to the real SMTP server of the `smtp` fixture."""
    with running(smtp_settings) as svc:
        yield svc


async def register(svc: Services, event: Event, app: Application) -> Registration:
    return await svc.db.write(store.register, event, app, svc.now())


def parts(message: EmailMessage) -> list[str]:
    return [part.get_content_type() for part in message.walk()]


async def test_ticket_mail_arrives_with_inline_qr_and_ics(
    smtp_services: Services, event: Event, smtp: SmtpSink
) -> None:
    """The SMTP server receives one Japanese message: text + HTML, the QR inline by CID, the .ics attached."""
    registration = await register(smtp_services, event, SAKI)
    outcome = await mailer.send_ticket(smtp_services, event, registration)
    assert outcome is not None and outcome.result is Result.SENT
    assert smtp.recipients() == ["saki@example.jp"]
    message = smtp.messages()[0]
    assert message["Subject"].startswith("【参加証") and event.title in message["Subject"]
    assert "髙橋 﨑子" in str(message["To"])
    assert parts(message) == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "multipart/related",
        "text/html",
        "image/png",
        "text/calendar",
    ]
    code = registration.ticket.code if registration.ticket else ""
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "髙橋 﨑子 様" in text
    assert f"{smtp_services.settings.base_url}/t/{code}" in text
    assert f"{smtp_services.settings.base_url}/w/{code}" in text
    image = next(part for part in message.walk() if part.get_content_type() == "image/png")
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert f'src="cid:{image["Content-ID"].strip("<>")}"' in html
    assert Image.open(io.BytesIO(image.get_content())).size[0] >= 250
    calendar = next(part for part in message.walk() if part.get_content_type() == "text/calendar")
    assert calendar.get_filename() == f"{event.slug}.ics"
    assert "BEGIN:VEVENT" in calendar.get_content()


async def test_venue_ticket_mail_has_no_watch_link(smtp_services: Services, event: Event, smtp: SmtpSink) -> None:
    """Only online registrants get the personal watch link."""
    registration = await register(smtp_services, event, person(1))
    await mailer.send_ticket(smtp_services, event, registration)
    text = smtp.messages()[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "/t/" in text and "/w/" not in text


async def test_same_ticket_is_never_sent_twice(smtp_services: Services, event: Event, smtp: SmtpSink) -> None:
    """A second send of the same ticket is skipped; a re-issued ticket may be sent."""
    registration = await register(smtp_services, event, SAKI)
    await mailer.send_ticket(smtp_services, event, registration)
    again = await mailer.send_ticket(smtp_services, event, registration)
    assert again is not None and again.result is Result.SKIPPED
    assert len(smtp.received) == 1
    ticket = await smtp_services.db.write(store.reissue_ticket, event, registration.registrant.id, 1.0, "test")
    reissued = await mailer.send_ticket(smtp_services, event, Registration(registration.registrant, ticket))
    assert reissued is not None and reissued.result is Result.SENT
    assert len(smtp.received) == 2


async def test_waitlisted_registration_has_nothing_to_send(settings: Settings) -> None:
    """No ticket while on the waiting list, so no message."""
    event = seed_event(settings, replace(EVENT, slug="full", capacity=0))
    with running(settings) as svc:
        waiting = await register(svc, event, person(1))
        assert await mailer.send_ticket(svc, event, waiting) is None


async def test_outbox_mode_writes_eml_files(services: Services, event: Event) -> None:
    """With no SMTP host, the message is an .eml file in the outbox folder."""
    registration = await register(services, event, SAKI)
    outcome = await mailer.send_ticket(services, event, registration)
    assert outcome is not None and outcome.result is Result.SENT
    files = list(services.settings.smtp.outbox.glob(f"{event.slug}-*-ticket.eml"))
    assert len(files) == 1
    message = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert message["To"].addresses[0].addr_spec == "saki@example.jp"


async def test_promoted_people_get_their_new_ticket(settings: Settings) -> None:
    """A cancellation moves the first waiting person up; notify_promoted e-mails them once (kind promoted)."""
    event = seed_event(settings, replace(EVENT, slug="small", capacity=1))
    with running(settings) as svc:
        first = await register(svc, event, person(1))
        waiting = await register(svc, event, person(2))
        assert waiting.ticket is None
        cancelled = await svc.db.write(store.cancel, event, first.registrant.id, svc.now(), "test")
        outcomes = await mailer.notify_promoted(svc, event, cancelled.promoted)
        assert [o.result for o in outcomes] == [Result.SENT]
        files = list(settings.smtp.outbox.glob("small-*-promoted.eml"))
        message = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
        assert "お席のご用意" in message["Subject"]
        assert await svc.db.read(mailstore.unsent, event.id) == []
        assert await mailer.notify_promoted(svc, event, ()) == []


async def test_resend_is_limited_to_once_in_ten_minutes(services: Services, event: Event) -> None:
    """A re-send repeats, but not within 10 minutes for one registrant; unknown addresses send nothing."""
    clock = [1_000_000.0]
    services.clock = lambda: clock[0]
    await register(services, event, SAKI)
    first = await mailer.resend(services, event, "ＳＡＫＩ＠example.jp")
    assert first is not None and first.result is Result.SENT
    soon = await mailer.resend(services, event, "saki@example.jp")
    assert soon is not None and soon.result is Result.SKIPPED
    clock[0] += mailstore.RESEND_INTERVAL + 1
    later = await mailer.resend(services, event, "saki@example.jp")
    assert later is not None and later.result is Result.SENT
    assert await mailer.resend(services, event, "nobody@example.jp") is None
    assert len(list(services.settings.smtp.outbox.glob("*-resend.eml"))) == 2


async def test_refused_recipient_can_be_sent_again(smtp_services: Services, event: Event, smtp: SmtpSink) -> None:
    """A 550 is reported as a failure and releases the claim, so the next run tries again."""
    smtp.refuse.add("saki@example.jp")
    registration = await register(smtp_services, event, SAKI)
    outcome = await mailer.send_ticket(smtp_services, event, registration)
    assert outcome is not None and outcome.result is Result.FAILED and not outcome.connection
    assert "550" in outcome.reason
    assert len(await smtp_services.db.read(mailstore.unsent, event.id)) == 1


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_smtp_login_is_used(settings: Settings, event: Event) -> None:
    """A server that requires a login gets the configured one."""
    with smtp_server(SmtpSink(login=("mailer", "s3cret"))) as sink:
        smtp = replace(settings.smtp, host="127.0.0.1", port=sink.port, security="none")
        with running(replace(settings, smtp=replace(smtp, username="mailer", password="s3cret"))) as svc:
            outcome = await mailer.send_ticket(svc, event, await register(svc, event, SAKI))
    assert outcome is not None and outcome.result is Result.SENT
    assert len(sink.received) == 1


async def test_unreachable_server_is_a_connection_failure(settings: Settings, event: Event) -> None:
    """Nobody listening: the message failed certainly (claim released) and the server is to blame."""
    from tests.utils import free_port

    nobody = replace(settings.smtp, host="127.0.0.1", port=free_port(), security="none")
    with running(replace(settings, smtp=nobody)) as svc:
        outcome = await mailer.send_ticket(svc, event, await register(svc, event, SAKI))
        assert outcome is not None and outcome.result is Result.FAILED and outcome.connection
        assert len(await svc.db.read(mailstore.unsent, event.id)) == 1


class LostConnection:
    """A transport whose connection drops while the message is on its way."""

    def send(self, message: Message, name: str, recipient: str) -> None:
        raise DeliveryError("connection lost while sending", certain=False, connection=True)

    def close(self) -> None:
        return None


async def test_uncertain_delivery_keeps_the_claim(services: Services, event: Event) -> None:
    """When nobody knows whether a message left, the ticket is not sent again unasked."""
    registration = await register(services, event, SAKI)
    assert registration.ticket is not None
    item = mailstore.Outgoing(registration.registrant, registration.ticket)
    outcome = await mailer.deliver(services, LostConnection(), event, item, "ticket")
    assert outcome.result is Result.FAILED
    assert await services.db.read(mailstore.unsent, event.id) == []
    assert len(await services.db.read(mailstore.interrupted, event.id, services.now() + 1)) == 1


def test_unknown_security_setting_is_refused(settings: Settings) -> None:
    """CHECKIN_SMTP_SECURITY must be starttls, tls or none."""
    with pytest.raises(ValueError, match="CHECKIN_SMTP_SECURITY"):
        mailer.open_transport(replace(settings.smtp, host="127.0.0.1", security="ssl3"))


async def test_mail_goes_only_to_the_one_validated_envelope_recipient(
    smtp_services: Services, event: Event, smtp: SmtpSink
) -> None:
    """A stored address that is not exactly one address (an old row) is never sent to; a good one is the
    only envelope recipient, with an IDN domain in its ASCII form."""
    listed = await register(smtp_services, event, replace(SAKI, email="saki@example.jp, postmaster@example.jp"))
    outcome = await mailer.send_ticket(smtp_services, event, listed)
    assert outcome is not None and outcome.result is Result.FAILED and not outcome.connection
    assert smtp.received == []
    idn = await register(smtp_services, event, replace(SAKI, email="hanako@日本語.jp"))
    outcome = await mailer.send_ticket(smtp_services, event, idn)
    assert outcome is not None and outcome.result is Result.SENT
    assert smtp.recipients() == ["hanako@xn--wgv71a119e.jp"]

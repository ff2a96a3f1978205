"""The ticket e-mail: Japanese first with a short English part, plain text and HTML, QR inline, .ics attached.

Pure: builds an `EmailMessage` from plain values; sending is `checkin.mailer`'s job. The structure is
multipart/mixed [multipart/alternative [text/plain, multipart/related [text/html, image/png]], .ics],
which mail programs show as one HTML message with the QR code in place and a calendar attachment.
"""

from __future__ import annotations

from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

from checkin.i18n import translate
from checkin.ics import event_ics
from checkin.models import Event, Mode, Registrant, Ticket, to_datetime
from checkin.tickets import render_png
from checkin.web.templating import env
from checkin.web.templating import format_datetime as display_time

KINDS = ("ticket", "promoted", "resend")


def ticket_url(base_url: str, ticket: Ticket) -> str:
    return f"{base_url}/t/{ticket.code}"


def watch_url(base_url: str, ticket: Ticket) -> str:
    return f"{base_url}/w/{ticket.code}"


def _domain(sender: str) -> str:
    """The domain of the sender address, for Message-ID and Content-ID."""
    address = parseaddr(sender)[1]
    return address.rpartition("@")[2] or "localhost"


def _when(event: Event, lang: str) -> str:
    return f"{display_time(event.starts_at, lang)}–{display_time(event.ends_at, lang, with_date=False)}"


def compose(
    event: Event,
    registrant: Registrant,
    ticket: Ticket,
    *,
    kind: str,
    base_url: str,
    sender: str,
    now: float,
) -> EmailMessage:
    """The message for one registrant's ticket; ValueError when the address cannot be written in a header."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind of ticket mail: {kind}")
    domain = _domain(sender)
    qr_cid = make_msgid("qr", domain)
    subject = translate(f"mail.subject.{kind}", "ja", title=event.title)
    page = ticket_url(base_url, ticket)
    watch = watch_url(base_url, ticket) if registrant.mode is Mode.ONLINE else ""
    context = {
        "kind": kind,
        "event": event,
        "registrant": registrant,
        "subject": subject,
        "ticket_url": page,
        "watch_url": watch,
        "when_ja": _when(event, "ja"),
        "when_en": _when(event, "en"),
        "venue": "　".join(part for part in (event.venue_name, event.venue_address) if part),
        "mode_ja": translate(f"mode.{registrant.mode.value}", "ja"),
        "qr_cid": qr_cid[1:-1],
    }
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = Address(display_name=registrant.name, addr_spec=registrant.email)
    message["Date"] = format_datetime(to_datetime(now))
    message["Message-ID"] = make_msgid("ticket", domain)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(env.get_template("mail_ticket.txt").render(**context))
    message.add_alternative(env.get_template("mail_ticket.html").render(**context), subtype="html")
    html_part = message.get_body(("html",))
    assert html_part is not None
    html_part.add_related(
        render_png(ticket.code), "image", "png", cid=qr_cid, disposition="inline", filename="ticket-qr.png"
    )
    uid = f"{event.slug}-{registrant.id}@{domain}"
    calendar = event_ics(event, page, uid, now, "\n".join(url for url in (page, watch) if url))
    message.add_attachment(calendar, subtype="calendar", filename=f"{event.slug}.ics", params={"method": "PUBLISH"})
    return message

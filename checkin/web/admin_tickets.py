"""Sending the tickets from the admin: the count not sent yet, a button, and a progress page the server
renders (it reloads itself while the sending runs: no script). One sending per event at a time, in this
process; a ticket is claimed before it is sent, so two senders never e-mail one ticket twice."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from checkin import mailer
from checkin.access import Principal
from checkin.models import Event
from checkin.services import Services
from checkin.settings import SmtpSettings
from checkin.storage import mail as mailstore
from checkin.storage.events import audit
from checkin.web.adminkit import event_page, page
from checkin.web.common import see_other, services

log = logging.getLogger("checkin.mail")
REFRESH_SECONDS = 2


@dataclass
class SendJob:
    """One sending of an event's unsent tickets: how far it got, and how it ended."""

    total: int
    done: int = 0
    sent: int = 0
    skipped: int = 0
    failures: list[mailer.Outcome] = field(default_factory=list)
    aborted: str = ""
    finished: bool = False
    task: asyncio.Task[None] | None = None

    def progress(self, done: int, outcome: mailer.Outcome) -> None:
        """Count one message handled (the mailer calls this after each)."""
        self.done = done
        if outcome.result is mailer.Result.SENT:
            self.sent += 1
        elif outcome.result is mailer.Result.SKIPPED:
            self.skipped += 1
        else:
            self.failures.append(outcome)


def jobs(request: Request) -> dict[int, SendJob]:
    """This process's sendings, by event id (kept on the app, so each app has its own)."""
    state = request.app.state
    if not hasattr(state, "ticket_jobs"):
        state.ticket_jobs = {}
    found: dict[int, SendJob] = state.ticket_jobs
    return found


def sender_is_default(svc: Services) -> bool:
    """Whether ticket mail would still come from the placeholder address nobody can answer."""
    return svc.settings.smtp.sender == SmtpSettings.sender


async def unsent_count(svc: Services, event: Event) -> int:
    """Tickets of registered people that were never sent."""
    return len(await svc.db.read(mailstore.unsent, event.id))


async def run(svc: Services, event: Event, items: Sequence[mailstore.Outgoing], job: SendJob, actor: str) -> None:
    """Send, then write what happened to the audit log; a crash ends the job with its reason, never silently."""
    try:
        report = await mailer.send_unsent(svc, event, items, on_progress=job.progress)
        job.aborted = report.aborted
    except Exception as exc:  # the page must say the sending stopped, whatever stopped it
        log.exception("sending the tickets of %s stopped", event.slug)
        job.aborted = str(exc) or type(exc).__name__
    finally:
        job.finished = True
    detail: dict[str, object] = {"sent": job.sent, "failed": len(job.failures), "skipped": job.skipped}
    await svc.writes.store(audit, event.id, svc.now(), actor, "tickets.send", "", detail)


@event_page
async def tickets(request: Request, principal: Principal, event: Event) -> Response:
    """GET /admin/events/{slug}/tickets: tickets not sent yet, the send button, and the last sending's progress."""
    svc = services(request)
    job = jobs(request).get(event.id)
    running = job is not None and not job.finished
    return page(
        request,
        principal,
        "admin/tickets.html",
        event=event,
        tab="tickets",
        job=job,
        running=running,
        refresh=REFRESH_SECONDS if running else None,
        unsent=await unsent_count(svc, event),
        sender=svc.settings.smtp.sender,
        sender_default=sender_is_default(svc),
    )


@event_page
async def send(request: Request, principal: Principal, event: Event) -> Response:
    """POST /admin/events/{slug}/tickets/send: start sending every unsent ticket (once: a running one is kept)."""
    svc = services(request)
    running = jobs(request).get(event.id)
    if running is None or running.finished:
        items = await svc.db.read(mailstore.unsent, event.id)
        job = SendJob(total=len(items))
        if items:
            job.task = asyncio.create_task(run(svc, event, items, job, principal.actor))
        else:
            job.finished = True
        jobs(request)[event.id] = job
    return see_other(f"/admin/events/{event.slug}/tickets")


routes: list[BaseRoute] = [
    Route("/admin/events/{slug}/tickets", tickets, methods=["GET"]),
    Route("/admin/events/{slug}/tickets/send", send, methods=["POST"]),
]

"""The organisers' import and export page: a registrant CSV upload (all or nothing unless bad rows are
skipped) and the attendance report download, as an Excel workbook (.xlsx) or CSV (UTF-8 with BOM)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from checkin.access import Principal
from checkin.errors import FileProblem
from checkin.models import Event
from checkin.roster import REPORT_FORMATS, export_report, import_csv, report_filename
from checkin.storage import admin as store
from checkin.storage.events import audit
from checkin.web.admin_tickets import sender_is_default, unsent_count
from checkin.web.adminkit import event_page, page
from checkin.web.common import mail_promoted, services
from checkin.web.forms import file_field, read_form, text_field
from checkin.web.templating import language


async def files_page(
    request: Request, principal: Principal, event: Event, status: int = 200, **context: object
) -> Response:
    """The page, saying how many tickets were never sent (an import e-mails nobody)."""
    svc = services(request)
    unsent = await unsent_count(svc, event)
    sender = {"sender": svc.settings.smtp.sender, "sender_default": sender_is_default(svc)}
    return page(
        request, principal, "admin/files.html", status, event=event, tab="files", unsent=unsent, **sender, **context
    )


@event_page
async def files(request: Request, principal: Principal, event: Event) -> Response:
    """GET: the import form and the export links. POST: import the uploaded file."""
    if request.method == "GET":
        return await files_page(request, principal, event)
    form = await read_form(request)
    upload = file_field(form, "file")
    if upload is None or not upload.filename:
        return await files_page(request, principal, event, 422, problem="admin.files.no_file")
    svc = services(request)
    skip = text_field(form, "skip_bad_rows") == "on"
    try:
        data = await upload.read()
        report = await import_csv(svc.writes, event, data, now=svc.now(), skip_bad_rows=skip, actor=principal.actor)
    except FileProblem as exc:
        return await files_page(request, principal, event, 422, problem_text=exc.text(language(request)))
    if not report.written:
        return await files_page(request, principal, event, 422, report=report)
    promoted = await svc.db.read(store.registrations_by_ref, event.id, report.promoted)
    response = await files_page(request, principal, event, report=report)
    response.background = mail_promoted(request, event, promoted)
    return response


@event_page
async def export(request: Request, principal: Principal, event: Event) -> Response:
    """GET: the attendance report as a .xlsx or .csv download (English headers with ?headers=en)."""
    svc = services(request)
    file_format = request.url.path.rpartition(".")[2]  # one route per format: always one of REPORT_FORMATS
    english = request.query_params.get("headers") == "en"
    data = await export_report(
        svc.db, event, base_url=event.links_base(svc.settings.base_url), file_format=file_format,
        english_headers=english,
        executor=svc.blocking,
    )  # fmt: skip
    await svc.writes.store(audit, event.id, svc.now(), principal.actor, "registrants.export", event.slug)
    headers = {
        "content-disposition": f'attachment; filename="{report_filename(event, file_format, svc.now())}"',
        "cache-control": "no-store",
    }
    return Response(data, media_type=REPORT_FORMATS[file_format][1], headers=headers)


routes: list[BaseRoute] = [
    Route("/admin/events/{slug}/files", files, methods=["GET", "POST"]),
    *(Route(f"/admin/events/{{slug}}/export.{ext}", export, methods=["GET"]) for ext in REPORT_FORMATS),
]

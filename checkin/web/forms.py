"""HTML form bodies, read once within the size limits and kept on the request (CSRF checks read them too)."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser
from starlette.requests import Request

from checkin.errors import BadRequest
from checkin.web.common import read_body, services

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def is_form(request: Request) -> bool:
    """Whether the body is an HTML form (urlencoded, or multipart with files)."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower() in FORM_TYPES


async def read_form(request: Request) -> FormData:
    """The form body: urlencoded up to max_body_bytes, multipart up to max_upload_bytes; else 413 or 400."""
    cached: FormData | None = getattr(request.state, "form", None)
    if cached is not None:
        return cached
    settings = services(request).settings
    multipart = request.headers.get("content-type", "").lower().startswith("multipart/form-data")
    limit = settings.max_upload_bytes if multipart else settings.max_body_bytes
    body = await read_body(request, limit)
    # Kept on the request: an endpoint that reads the body again (a JSON endpoint called with a form body,
    # after the CSRF check read the form) gets it from `read_body` rather than a consumed stream.
    request.state.body = body

    async def stream() -> AsyncGenerator[bytes, None]:
        yield body

    try:
        if multipart:
            parser = MultiPartParser(request.headers, stream(), max_files=2, max_fields=100, max_part_size=limit)
            form = await parser.parse()
        elif is_form(request):
            form = await FormParser(request.headers, stream(), max_fields=100, max_part_size=limit).parse()
        else:
            form = FormData()
    except (MultiPartException, ValueError) as exc:
        raise BadRequest("the form could not be read") from exc
    request.state.form = form
    return form


def text_field(form: FormData, name: str) -> str:
    """A text field's value ('' when missing or a file)."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


def file_field(form: FormData, name: str) -> UploadFile | None:
    """An uploaded file, or None when the field is missing or not a file."""
    value = form.get(name)
    return value if isinstance(value, UploadFile) else None


def form_strings(form: FormData) -> dict[str, str]:
    """A form's text fields as a plain mapping (files dropped; the last of repeated names)."""
    return {name: value for name, value in form.multi_items() if isinstance(value, str)}

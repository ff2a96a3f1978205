"""The OpenAPI 3.1 description of the JSON API, as data, served at `GET /api/v1/openapi.json`.

Tests keep it true: every `/api/v1` route of the app is described here and every path here is routed
(tests/test_openapi.py), and schemathesis calls each operation with generated requests and checks
the answers against these schemas.
"""

from __future__ import annotations

import functools
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

Schema = dict[str, Any]

ISO_TIME: Schema = {"type": "string", "format": "date-time"}
MAYBE_TIME: Schema = {"type": ["string", "null"], "format": "date-time"}
COUNT: Schema = {"type": "integer", "minimum": 0}
SLUG: Schema = {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{1,39}$"}
ROW_ID: Schema = {"type": "integer", "minimum": 1, "maximum": 999_999_999_999_999_999}
MODE: Schema = {"type": "string", "enum": ["venue", "online"]}
STATUS: Schema = {"type": "string", "enum": ["registered", "waitlisted", "cancelled"]}
DIRECTION: Schema = {"type": "string", "enum": ["in", "out"]}
SCAN_RESULTS = [
    "ok",
    "already_checked_in",
    "invalid",
    "unknown",
    "revoked",
    "wrong_event",
    "venue_full",
    "waitlisted",
    "exited",
    "not_checked_in",
]

# Why each status is answered (the `error` codes are listed in docs/KIOSK_API.md and README).
ERRORS = {
    "400": "bad_request: the body is not a JSON object (broken, nested too deeply, not an object)",
    "401": "unauthorized: no valid token or login",
    "403": "forbidden: this credential may not do that (a role or an event that is not its own)",
    "404": "not found: event_not_found, registrant_not_found, not_checked_in, pairing_code_invalid",
    "409": "conflict: duplicate_email, venue_full, registration_closed",
    "413": "payload_too_large: the body is over the size limit",
    "422": "invalid: some fields are not valid (`fields` names them)",
    "429": "too_many_requests: over the per-address or per-credential limit",
}


def _obj(required: dict[str, Schema], optional: dict[str, Schema] | None = None) -> Schema:
    """An object with these required (and optional) properties; others may follow."""
    return {"type": "object", "required": list(required), "properties": {**required, **(optional or {})}}


ERROR: Schema = _obj(
    {"error": {"type": "string"}, "message": {"type": "string"}},
    {"fields": {"type": "object", "additionalProperties": {"type": "string"}}},
)
REGISTRANT: Schema = _obj(
    {
        "id": ROW_ID,
        "ref_no": {"type": "string"},
        "name": {"type": "string"},
        "kana": {"type": "string"},
        "email": {"type": "string"},
        "organisation": {"type": "string"},
        "mode": MODE,
        "status": STATUS,
    }
)
DOOR_REGISTRANT: Schema = _obj(
    {
        "id": ROW_ID,
        "ref_no": {"type": "string"},
        "name": {"type": "string"},
        "kana": {"type": "string"},
        "organisation": {"type": "string"},
        "mode": MODE,
    }
)
TICKET: Schema = {
    "type": ["object", "null"],
    "required": ["code", "url", "png_url"],
    "properties": {"code": {"type": "string"}, "url": {"type": "string"}, "png_url": {"type": "string"}},
}
SCAN_WARNINGS = (
    "registered_online (an online registrant admitted while the hall has room), waitlisted (a waitlisted person"
    " admitted by staff), reentry, walkin, hall_full (the hall reached its capacity: admit no more walk-ins or"
    " waitlisted people), over_capacity (admitted past the hall capacity: a registered person, or an offline"
    " admit), refused_offline, admitted_offline_revoked, earlier_scan_stands, scanned_at_adjusted"
)
SCAN_ANSWER: Schema = _obj(
    {
        "result": {"type": "string", "enum": SCAN_RESULTS},
        "scan_id": {"type": "string"},
        "warnings": {"type": "array", "items": {"type": "string"}, "description": SCAN_WARNINGS},
        "in_hall": {"type": "integer"},
        "checked_in": COUNT,
        "hall_capacity": {"type": "integer", "description": "the hall capacity in force (people in the hall at once)"},
    },
    {"registrant": DOOR_REGISTRANT, "first_checked_in_at": ISO_TIME, "first_kiosk": {"type": "string"}},
)
POINT: Schema = {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": ["string", "integer"]}}
SNAPSHOT: Schema = _obj(
    {
        "type": {"const": "snapshot"},
        "event": {"type": "string"},
        "at": ISO_TIME,
        "seq": COUNT,
        "venue": _obj(
            {
                "capacity": COUNT,
                "registered": COUNT,
                "checked_in": COUNT,
                "in_hall": {"type": "integer"},
                "hall_capacity": {**COUNT, "description": "people in the hall at once (capacity: registration seats)"},
            }
        ),
        "online": _obj({"now": COUNT, "peak": COUNT, "peak_at": MAYBE_TIME, "unique": COUNT}),
        "total": _obj({"attended": COUNT}),
        "kiosks": {
            "type": "array",
            "items": _obj(
                {"name": {"type": "string"}, "online": {"type": "boolean"}, "last_seen": MAYBE_TIME, "scans": COUNT},
                {"queue_length": COUNT, "last_scan_at": MAYBE_TIME},
            ),
        },
        "series": _obj(
            {
                "arrivals": {"type": "array", "items": POINT},
                "online": {"type": "array", "items": POINT},
            }
        ),
        "latest_checkins": {
            "type": "array",
            "description": "a dashboard token of an event with projector_names off gets `at` and `kiosk` only",
            "items": _obj({"at": ISO_TIME, "kiosk": {"type": "string"}}, {"ref_no": {"type": "string"}, "name": {}}),
        },
    }
)
SYNC_REGISTRANT = _obj({**DOOR_REGISTRANT["properties"], "status": STATUS, "checked_in_at": MAYBE_TIME})
SYNC: Schema = _obj(
    {
        "cursor": {"type": "string"},
        "full": {"type": "boolean"},
        "server_time": ISO_TIME,
        "event": _obj(
            {"slug": {"type": "string"}, "title": {"type": "string"}, "capacity": COUNT, "hall_capacity": COUNT}
        ),
        "counts": _obj({"checked_in": COUNT, "in_hall": {"type": "integer"}}),
        "entries": {
            "type": "array",
            "items": _obj(
                {
                    "hash": {"type": "string"},
                    "status": {"type": "string", "enum": ["valid", "revoked"]},
                    "registrant": _obj({**DOOR_REGISTRANT["properties"]}, {"status": STATUS}),
                    "checked_in_at": MAYBE_TIME,
                }
            ),
        },
        "registrants": {"type": "array", "items": SYNC_REGISTRANT},
    }
)
ATTENDANCE: Schema = _obj(
    {
        "registrant": _obj({**REGISTRANT["properties"], "checked_in_at": MAYBE_TIME, "inside": {"type": "boolean"}}),
        "ticket": TICKET,
        "checkins": {
            "type": "array",
            "items": _obj(
                {
                    "at": ISO_TIME,
                    "direction": DIRECTION,
                    "kiosk": {"type": "string"},
                    "method": {"type": "string"},
                    "undone": {"type": "boolean"},
                }
            ),
        },
        "viewing": _obj({"minutes": COUNT, "seconds": COUNT, "first_seen": MAYBE_TIME, "last_seen": MAYBE_TIME}),
    }
)
NAME: Schema = {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "^[^\\s\\x00-\\x1f]"}
KANA: Schema = {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "^[ァ-ヶー・ ]+$"}
EMAIL: Schema = {"type": "string", "maxLength": 254, "pattern": "^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$"}
REGISTRATION_BODY: Schema = {
    "type": "object",
    "required": ["name", "kana", "email", "mode"],
    "properties": {
        "name": NAME,
        "kana": KANA,
        "email": EMAIL,
        "organisation": {"type": "string", "maxLength": 200},
        "mode": MODE,
        "waitlist": {"type": "boolean", "description": "accept a place on the waiting list when the venue is full"},
    },
}
SCAN_BODY: Schema = {
    "type": "object",
    "required": ["scan_id"],
    "properties": {
        "scan_id": {"type": "string", "minLength": 1, "maxLength": 64, "description": "client-made, e.g. a UUID"},
        "code": {"type": "string", "description": "what the camera or scanner read (give this or registrant_id)"},
        "registrant_id": ROW_ID,
        "direction": DIRECTION,
        "method": {"type": "string", "enum": ["camera", "wedge", "search", "walkin"]},
        "scanned_at": ISO_TIME,
        "offline_decision": {"type": "string", "maxLength": 40},
        "admit": {
            "type": "boolean",
            "description": "staff admit a waitlisted person (answered `waitlisted` before) while the hall has room;"
            " send it with a new scan_id",
        },
    },
}
WALKIN_BODY: Schema = {
    "type": "object",
    "required": ["scan_id", "name"],
    "properties": {
        "scan_id": SCAN_BODY["properties"]["scan_id"],
        "name": NAME,
        "kana": KANA,
        "email": EMAIL,
        "organisation": {"type": "string", "maxLength": 200},
        "scanned_at": ISO_TIME,
        "offline_decision": {"type": "string", "maxLength": 40},
    },
}
HEARTBEAT_BODY: Schema = {
    "type": "object",
    "properties": {
        "queue_length": {"type": "integer", "minimum": 0, "maximum": 100_000},
        "last_scan_at": ISO_TIME,
        "direction": DIRECTION,
        "online": {"type": "boolean"},
    },
}

STAFF: list[Schema] = [{"bearer": []}, {"session": []}]


def _json(schema: Schema, description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _operation(
    summary: str,
    ok: tuple[str, Schema],
    errors: str,
    *,
    body: Schema | None = None,
    example: Schema | None = None,
    staff: bool = True,
) -> Schema:
    """One operation: its success answer, the error statuses it may give, its body (with an example) and
    who may call it."""
    status, schema = ok
    responses = {status: _json(schema, summary)}
    responses.update({code: _json(ERROR, ERRORS[code]) for code in errors.split()})
    operation: Schema = {"summary": summary, "responses": responses, "security": STAFF if staff else []}
    if body is not None:
        media: Schema = {"schema": body} if example is None else {"schema": body, "example": example}
        operation["requestBody"] = {"required": True, "content": {"application/json": media}}
    return operation


def _param(name: str, schema: Schema, where: str = "path", description: str = "") -> Schema:
    return {"name": name, "in": where, "required": where == "path", "schema": schema, "description": description}


def _event_path(**operations: Schema) -> Schema:
    return {"parameters": [_param("slug", SLUG, description="the event")], **operations}


def _registrant_path(**operations: Schema) -> Schema:
    path = _event_path(**operations)
    path["parameters"].append(_param("registrant_id", ROW_ID))
    return path


SEARCH_ITEM = _obj({**REGISTRANT["properties"], "checked_in_at": MAYBE_TIME})
ME: Schema = _obj(
    {
        "role": {"enum": ["organiser", "kiosk", "dashboard"]},
        "name": {"type": "string"},
        "event": {"type": ["string", "null"]},
    },
    {"kiosk": {"type": "string"}},
)
PAIRED: Schema = _obj({"token": {"type": "string"}, "event": {"type": "string"}, "kiosk": {"type": "string"}})
UNDONE: Schema = _obj({"result": {"const": "undone"}, "in_hall": {"type": "integer"}, "checked_in": COUNT})
NO_SHOW: Schema = _obj(
    {
        "ref_no": {"type": "string"},
        "name": {"type": "string"},
        "kana": {"type": "string"},
        "organisation": {"type": "string"},
        "watched_online": {"type": "boolean"},
    }
)
_TEXT: Schema = {"type": "string"}
_COUNT: Schema = {"type": "integer", "minimum": 0}
_MAYBE_NUMBER: Schema = {"type": ["number", "null"]}
REPORT_FIGURES: Schema = _obj(
    {
        "venue": _obj(
            {
                **{name: _COUNT for name in ("registered", "arrived", "no_shows", "walk_ins", "checked_in")},
                **{"online_registrants": _COUNT, "capacity": _COUNT, "rate": _MAYBE_NUMBER},
            }
        ),
        "online": _obj(
            {
                **{name: _COUNT for name in ("unique", "registrants", "anonymous", "peak", "minutes")},
                **{"peak_at": {"type": ["string", "null"]}, "minutes_per_viewer": _MAYBE_NUMBER},
            }
        ),
        "both": _COUNT,
        "total": _COUNT,
    }
)
REPORT: Schema = _obj(
    {
        "event": _obj(
            {name: _TEXT for name in ("slug", "title", "starts_at", "ends_at", "venue_name", "venue_address")},
            {"organisers": _TEXT},
        ),
        "as_of": _TEXT,
        "figures": REPORT_FIGURES,
        "snapshot": SNAPSHOT,
        "no_shows": {"type": "array", "items": NO_SHOW},
        "walk_ins": {
            "type": "array",
            "items": _obj(
                {"ref_no": _TEXT, "name": _TEXT, "organisation": _TEXT, "checked_in_at": {"type": ["string", "null"]}}
            ),
        },
        "export_url": _TEXT,
        "exports": _obj({"xlsx": _TEXT, "csv": _TEXT}),
    }
)
SECURITY_SCHEMES: Schema = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "an API token (checkin token create)"},
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": "checkin_session",
        "description": "the organisers' login; unsafe methods also need the X-CSRF-Token header",
    },
}


def _paths() -> dict[str, Schema]:
    search = _operation(
        "search registrants by name, reading, e-mail or reference number (kiosk, organiser)",
        ("200", _obj({"registrants": {"type": "array", "items": SEARCH_ITEM}})),
        "401 403 404 429",
    )
    search["parameters"] = [_param("q", {"type": "string", "maxLength": 100}, "query")]
    sync = _operation("the kiosk's offline copy, all or changes since a cursor", ("200", SYNC), "401 403 404")
    sync["parameters"] = [_param("since", {"type": "string"}, "query", "the `cursor` of the last copy")]
    return {
        "/healthz": {"get": _operation("liveness", ("200", _obj({"status": {"const": "ok"}})), "", staff=False)},
        "/api/v1/openapi.json": {"get": _operation("this description", ("200", {"type": "object"}), "", staff=False)},
        "/api/v1/me": {"get": _operation("who this credential is", ("200", ME), "401")},
        "/api/v1/kiosk/pair": {
            "post": _operation(
                "spend a one-time pairing code for a kiosk token (public)",
                ("200", PAIRED),
                "400 404 413 429",
                body=_obj({"code": {"type": "string", "minLength": 1, "maxLength": 40}}),
                staff=False,
            )
        },
        "/api/v1/events/{slug}/registrations": _event_path(
            post=_operation(
                "register one person (public)",
                ("201", _obj({"registrant": REGISTRANT, "ticket": TICKET})),
                "400 404 409 413 422 429",
                body=REGISTRATION_BODY,
                example={"name": "山田 太郎", "kana": "ヤマダ タロウ", "email": "taro@example.jp", "mode": "venue"},
                staff=False,
            )
        ),
        "/api/v1/events/{slug}/resend": _event_path(
            post=_operation(
                "e-mail the ticket again to a registered address (the same answer whether or not it is)",
                ("202", _obj({"status": {"const": "accepted"}})),
                "400 404 413 422 429",
                body=_obj({"email": EMAIL}),
                example={"email": "taro@example.jp"},
                staff=False,
            )
        ),
        "/api/v1/events/{slug}/registrants": _event_path(get=search),
        "/api/v1/events/{slug}/registrants/{registrant_id}": _registrant_path(
            get=_operation("one registrant: ticket, check-ins, viewing (organiser)", ("200", ATTENDANCE), "401 403 404")
        ),
        "/api/v1/events/{slug}/scans": _event_path(
            post=_operation(
                "one scan at the door (kiosk, organiser)",
                ("200", SCAN_ANSWER),
                "400 401 403 404 413 422",
                body=SCAN_BODY,
                example={"scan_id": "6f1c0b1e-3f4a-4c55-9a41-0d8e2b7c9a10", "registrant_id": 1, "direction": "in"},
            )
        ),
        "/api/v1/events/{slug}/checkins/{registrant_id}": _registrant_path(
            delete=_operation("undo a mistaken check-in (kiosk, organiser)", ("200", UNDONE), "401 403 404")
        ),
        "/api/v1/events/{slug}/walkins": _event_path(
            post=_operation(
                "register a walk-in and check them in (kiosk, organiser)",
                ("200", SCAN_ANSWER),
                "400 401 403 404 409 413 422",
                body=WALKIN_BODY,
                example={
                    "scan_id": "0b7d6a52-5c1e-4a7e-8f0a-2d3c4b5a6978",
                    "name": "当日 花子",
                    "kana": "トウジツ ハナコ",
                },
            )
        ),
        "/api/v1/events/{slug}/kiosk/sync": _event_path(get=sync),
        "/api/v1/events/{slug}/kiosk/heartbeat": _event_path(
            post=_operation(
                "a kiosk's health; answers with the server's time (kiosk, organiser)",
                ("200", _obj({"server_time": ISO_TIME})),
                "400 401 403 404 413 422",
                body=HEARTBEAT_BODY,
                example={"queue_length": 0, "direction": "in", "online": True},
            )
        ),
        "/api/v1/events/{slug}/stats": _event_path(
            get=_operation("the dashboard snapshot (dashboard, organiser)", ("200", SNAPSHOT), "401 403 404")
        ),
        "/api/v1/events/{slug}/report": _event_path(
            get=_operation(
                "after the event: the attendance report's figures and lists (organiser)", ("200", REPORT), "401 403 404"
            )
        ),
    }


@functools.cache
def document() -> dict[str, Any]:
    """The OpenAPI document (built once)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "checkin JSON API",
            "version": "1",
            "description": "Registration, the door (kiosks), the dashboard figures and identity. Times are "
            "ISO 8601 with the event's offset; errors are {error, message[, fields]}. See docs/KIOSK_API.md.",
        },
        "paths": _paths(),
        "components": {"securitySchemes": SECURITY_SCHEMES},
    }


async def openapi_json(request: Request) -> JSONResponse:
    """The OpenAPI description of the JSON API (public)."""
    return JSONResponse(document(), headers={"cache-control": "no-cache"})


routes: list[BaseRoute] = [Route("/api/v1/openapi.json", openapi_json)]

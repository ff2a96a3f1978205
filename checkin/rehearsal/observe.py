"""What the server says at the end, from every place an organiser reads it: the last dashboard snapshot,
`/stats`, the report, and the CSV and Excel exports (English headers: the API's values). With several
servers, `/stats` of each (`stats@2`, …) and the last snapshot of a dashboard from each (`dashboard@2`: the
dashboard whose home is server 2, wherever it is now)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from openpyxl import load_workbook

from checkin.models import JST
from checkin.rehearsal.stage import Stage

Figures = dict[str, object]
People = dict[str, dict[str, float | None]]


def snapshot_figures(snapshot: dict[str, Any]) -> Figures:
    """The compared figures of a snapshot (dashboard socket, /stats, report)."""
    venue, online = snapshot["venue"], snapshot["online"]
    peak_at = online.get("peak_at")
    return {
        "registered": venue["registered"],
        "checked_in": venue["checked_in"],
        "in_hall": venue["in_hall"],
        "online_now": online["now"],
        "peak": online["peak"],
        "peak_at": datetime.fromisoformat(peak_at).timestamp() if peak_at else None,
        "unique": online["unique"],
        "attended": snapshot["total"]["attended"],
    }


def table_figures(rows: list[dict[str, Any]]) -> tuple[Figures, People]:
    """The figures an export can give (checked in, attended) and each person's check-in time and minutes."""
    people: People = {}
    for row in rows:
        at = row["checked_in_at"]
        if isinstance(at, str) and at:
            at = datetime.strptime(at, "%Y-%m-%d %H:%M:%S")
        when = at.replace(tzinfo=JST).timestamp() if isinstance(at, datetime) else None
        people[str(row["ref_no"])] = {"checked_in_at": when, "minutes": float(row["online_minutes"] or 0)}
    figures: Figures = {
        "checked_in": sum(1 for p in people.values() if p["checked_in_at"] is not None),
        "attended": sum(1 for row in rows if str(row["attended"]) == "1"),
    }
    return figures, people


def parse_csv(data: bytes) -> list[dict[str, Any]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def parse_xlsx(data: bytes) -> list[dict[str, Any]]:
    sheet = load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    headers = [str(h) for h in rows[0]]
    return [dict(zip(headers, row, strict=False)) for row in rows[1:]]


async def observe(stage: Stage) -> tuple[dict[str, Figures], dict[str, People]]:
    """Every source's figures, and the per-person rows of the two exports."""
    auth = stage.auth(stage.organiser)
    figures: dict[str, Figures] = {}
    people: dict[str, People] = {}
    if stage.last_snapshot is not None:
        figures["dashboard"] = snapshot_figures(stage.last_snapshot)
    for number, snapshot in sorted(stage.last_snapshots.items()):
        if number > 0:
            figures[f"dashboard@{number + 1}"] = snapshot_figures(snapshot)
    for number, url in enumerate(stage.servers):
        stats = await stage.client.get(f"{url}/api/v1/events/{stage.slug}/stats", headers=auth)
        figures["stats" if number == 0 else f"stats@{number + 1}"] = snapshot_figures(stats.json())
    # The report page's own figures: `/report` carries the snapshot the page shows. A comparison of the
    # page's other contents (no-show list, per-kiosk totals) belongs here, next to it.
    report = await stage.client.get(f"{stage.url}/api/v1/events/{stage.slug}/report", headers=auth)
    figures["report"] = snapshot_figures(report.json()["snapshot"])
    for fmt, parse in (("csv", parse_csv), ("xlsx", parse_xlsx)):
        answer = await stage.client.get(
            f"{stage.url}/admin/events/{stage.slug}/export.{fmt}", params={"headers": "en"}, headers=auth
        )
        if answer.status_code != 200:
            stage.problem(f"export.{fmt}: {answer.status_code}")
            continue
        figures[fmt], people[fmt] = table_figures(parse(answer.content))
    return figures, people

"""The summary: a table in Japanese or English for people, and the same as JSON for CI."""

from __future__ import annotations

import json
import statistics
from datetime import datetime
from pathlib import Path
from typing import Any

from checkin.models import JST
from checkin.rehearsal.compare import Row

LABELS = {
    "registered": ("登録者数（会場）", "registered (venue)"),
    "checked_in": ("受付済み", "checked in"),
    "in_hall": ("在場者数", "in the hall"),
    "online_now": ("視聴中", "watching now"),
    "peak": ("最大同時視聴数", "peak concurrent"),
    "peak_at": ("最大の時刻", "peak time"),
    "unique": ("視聴者数（ユニーク）", "unique viewers"),
    "attended": ("総参加者数", "total attended"),
    "mails": ("送信メール", "mails sent"),
}
WORDS = {
    "figure": ("項目", "figure"), "expected": ("想定", "expected"), "result": ("結果", "result"),
    "people": ("個人別（来場時刻・視聴分）", "per person (check-in time, minutes)"),
    "latency": ("応答時間", "latency"), "scan": ("受付の応答", "scan answer"),
    "dash": ("受付→ダッシュボード", "scan → dashboard"), "problems": ("想定外の応答", "unexpected answers"),
    "pass": ("合格", "PASS"), "fail": ("不合格", "FAIL"), "faults": ("障害", "faults"),
}  # fmt: skip
FAULT_NAMES = {
    "kill": ("サーバー{server}を kill -9", "kill -9 of server {server}"),
    "redis": ("Redis を停止・再起動", "Redis stopped and started"),
}
FAULT_COSTS = {
    "retried": ("再送 {} 件", "{} retried"),
    "viewer_reconnects": ("視聴者の再接続 {}", "{} viewer reconnects"),
    "dashboard_reconnects": ("ダッシュボードの再接続 {}", "{} dashboard reconnects"),
    "down_s": ("停止 {} 秒", "down {} s"),
    "exact_s": ("{} 秒で数値が一致", "figures exact after {} s"),
    "inexact_checks": ("不一致の確認 {} 回", "{} checks found a difference"),
    "settled_s": ("{} 秒で Redis が稼働中のサーバーだけを数える", "Redis counts the running servers after {} s"),
    "restart_ms": ("再起動 {} ms", "restarted in {} ms"),
}
SOURCES = ["dashboard", "stats", "report", "csv", "xlsx", "outbox"]


def source_order(source: str) -> tuple[int, int]:
    """`stats@2` after `stats`, before `report`."""
    name, _, number = source.partition("@")
    return SOURCES.index(name), int(number or 1)


def fault_lines(faults: list[dict[str, Any]], i: int) -> list[str]:
    """One line per fault played: when, what, and what it cost."""
    lines = []
    for fault in faults:
        name = FAULT_NAMES[fault["fault"]][i].format(server=fault.get("server"))
        cost = [text[i].format(fault[key]) for key, text in FAULT_COSTS.items() if fault.get(key) is not None]
        lines.append(f"  {fault['at']} {name}: {', '.join(cost)}")
    return lines


def percentile(values: list[float], pct: float) -> float | None:
    """The pct-th percentile (nearest rank), None without values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))]


def latency(values: list[float]) -> dict[str, float | int | None]:
    p50, p99 = percentile(values, 50), percentile(values, 99)
    return {
        "count": len(values),
        "p50_ms": None if p50 is None else round(p50, 1),
        "p99_ms": None if p99 is None else round(p99, 1),
        "mean_ms": round(statistics.fmean(values), 1) if values else None,
    }


def show(value: object) -> str:
    if isinstance(value, float):
        return datetime.fromtimestamp(value, JST).strftime("%H:%M:%S")
    return "—" if value is None else str(value)


def render(result: dict[str, Any], rows: list[Row], lang: str) -> str:
    """The table people read at the end of a rehearsal."""
    i = 0 if lang == "ja" else 1
    sources = sorted({s for row in rows for s in row.observed}, key=source_order)
    head = [WORDS["figure"][i], WORDS["expected"][i], *sources, WORDS["result"][i]]
    table = [head]
    for row in rows:
        cells = [show(row.observed.get(s, "")) if s in row.observed else "" for s in sources]
        table.append([LABELS[row.figure][i], show(row.expected), *cells, "OK" if row.ok else "NG " + ",".join(row.bad)])
    widths = [max(_width(r[c]) for r in table) for c in range(len(head))]
    lines = ["  ".join(cell + " " * (widths[c] - _width(cell)) for c, cell in enumerate(r)) for r in table]
    people = result["people_differences"]
    lines.append(f"{WORDS['people'][i]}: {'OK' if not people else f'NG ({len(people)})'}")
    lines += [f"  {line}" for line in people[:20]]
    for key, word in (("scan", "scan"), ("scan_to_dashboard", "dash")):
        lat = result["latency"][key]
        lines.append(f"{WORDS['latency'][i]} {WORDS[word][i]}: p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms"
                     f" ({lat['count']})")  # fmt: skip
    if result.get("faults"):
        lines.append(f"{WORDS['faults'][i]}:")
        lines += fault_lines(result["faults"], i)
    lines.append(f"{WORDS['problems'][i]}: {len(result['problems'])}")
    lines += [f"  {line}" for line in result["problems"][:20]]
    lines.append("  ".join(f"{k}={v}" for k, v in sorted(result["counts"].items())))
    lines.append(WORDS["pass" if result["ok"] else "fail"][i])
    return "\n".join(lines)


def _width(text: str) -> int:
    """Columns a string takes in a terminal (CJK characters take two)."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def write_json(result: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(result, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")

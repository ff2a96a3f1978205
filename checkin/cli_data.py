"""The data commands of `checkin`: tickets send, import, export, purge."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from checkin import mailer
from checkin.display import format_datetime
from checkin.mailer import Outcome, Result
from checkin.models import Event
from checkin.purge import check_ended, execute, plan
from checkin.roster import REPORT_FORMATS, format_report, import_csv
from checkin.services import Services, build
from checkin.settings import Settings
from checkin.storage import mail as mailstore
from checkin.storage import opened
from checkin.storage.events import get_event
from checkin.storage.roster import export_rows
from checkin.writes import Writes

STALE_CLAIM = 300.0  # seconds after which an unconfirmed claim is taken as a run that died mid-message


class ProgressBar:
    """`[#####     ] 120/300` on stderr: redrawn in place on a terminal, a line per tenth elsewhere."""

    def __init__(self, total: int, stream: TextIO | None = None, width: int = 30) -> None:
        self.total = max(total, 1)
        self.stream = stream or sys.stderr
        self.width = width
        self.failed = 0
        self._tty = self.stream.isatty()
        self._shown_tenth = -1

    def update(self, done: int, outcome: Outcome) -> None:
        if outcome.result is Result.FAILED:
            self.failed += 1
            self._write_line(f"失敗 / failed: {outcome.ref_no}: {outcome.reason}")
        tenth = done * 10 // self.total
        if self._tty or tenth != self._shown_tenth or done == self.total:
            self._shown_tenth = tenth
            self._draw(done)

    def _bar(self, done: int) -> str:
        filled = done * self.width // self.total
        failed = f"  失敗 {self.failed} failed" if self.failed else ""
        return f"[{'#' * filled}{' ' * (self.width - filled)}] {done}/{self.total}{failed}"

    def _draw(self, done: int) -> None:
        if self._tty:
            self.stream.write("\r" + self._bar(done))
        else:
            self.stream.write(self._bar(done) + "\n")
        self.stream.flush()

    def _write_line(self, text: str) -> None:
        self.stream.write(("\r\033[K" if self._tty else "") + text + "\n")

    def finish(self) -> None:
        if self._tty:
            self.stream.write("\n")
            self.stream.flush()


def _where_mail_goes(settings: Settings) -> str:
    smtp = settings.smtp
    if smtp.host:
        return f"SMTP {smtp.host}:{smtp.port} ({smtp.security})"
    return f"送信箱フォルダ / outbox folder {smtp.outbox} (CHECKIN_SMTP_HOST is not set)"


async def _send(svc: Services, event: Event, items: list[mailstore.Outgoing]) -> mailer.BulkReport:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):  # finish the message in flight, then stop cleanly
        loop.add_signal_handler(sig, stop.set)
    bar = ProgressBar(len(items))
    try:
        return await mailer.send_unsent(svc, event, items, on_progress=bar.update, stop=stop)
    finally:
        bar.finish()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def cmd_tickets_send(args: argparse.Namespace, settings: Settings) -> int:
    svc = build(replace(settings, qr_workers=0))
    svc.start()
    try:
        event = svc.db.read_sync(get_event, args.slug)
        stale_before = svc.now() - STALE_CLAIM
        if args.retry_interrupted:
            svc.db.write_sync(mailstore.forget_interrupted, event.id, stale_before)
        interrupted = svc.db.read_sync(mailstore.interrupted, event.id, stale_before)
        items = svc.db.read_sync(mailstore.unsent, event.id)
        print(f"未送信の参加証 {len(items)} 件 / {len(items)} tickets not sent yet → {_where_mail_goes(settings)}")
        print(f"参加証のURL / ticket links: {event.links_base(settings.base_url)}/t/…")
        if interrupted:
            refs = ", ".join(item.registrant.ref_no for item in interrupted)
            count = len(interrupted)
            print(f"注意: 前回の実行が送信中に止まり、届いたか不明な参加証が {count} 件あります（{refs}）。")
            print(f"  note: {count} messages were in flight when an earlier run died; --retry-interrupted sends them")
        if args.dry_run or not items:
            return 0
        report = asyncio.run(_send(svc, event, items))
    finally:
        svc.stop()
    print(f"送信 {report.sent} 件、失敗 {len(report.failures)} 件 / sent {report.sent}, failed {len(report.failures)}")
    if report.aborted or report.stopped:
        why = report.aborted or "中断されました / interrupted"
        print(f"途中で止まりました: {why}。もう一度実行すると続きから送信します / stopped early: run again to continue")
    return 1 if report.failures or report.aborted or report.stopped else 0


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    data = Path(args.file).read_bytes()
    with opened(settings) as db:
        event = db.read_sync(get_event, args.slug)
        report = asyncio.run(import_csv(Writes(db), event, data, now=time.time(), skip_bad_rows=args.skip_bad_rows))
    print(f"文字コード / encoding: {report.encoding}")
    for bad in report.bad:
        print(f"{bad.text('ja')} / {bad.text('en')}", file=sys.stderr)
    for kept in report.kept:
        print(f"{kept.text('ja')} / {kept.text('en')}")
    if report.ignored_columns:
        print(f"使わない列 / ignored columns: {', '.join(report.ignored_columns)}")
    if report.waitlisted:
        print(f"定員を超えたためキャンセル待ち / waiting list (venue full): {', '.join(report.waitlisted)}")
    if report.promoted:
        print(f"キャンセル待ちから繰り上げ / moved up: {', '.join(report.promoted)}")
    print(report.summary("ja"))
    print(report.summary("en"))
    return 0 if report.written else 1


def report_format(args: argparse.Namespace) -> str:
    """--format, else the file's suffix (.xlsx), else CSV."""
    if args.format:
        return str(args.format)
    return "xlsx" if Path(args.file).suffix.lower() == ".xlsx" else "csv"


def export_base_url(event: Event) -> str | None:
    """The address ticket links in a report start with: the event's own, else CHECKIN_BASE_URL; None
    rather than a guess (the default address is the port a server might not be running on)."""
    if event.base_url:
        return event.base_url
    configured = os.environ.get("CHECKIN_BASE_URL", "").strip().rstrip("/")
    return configured or None


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    file_format = report_format(args)
    with opened(settings) as db:
        event = db.read_sync(get_event, args.slug)
        rows = db.read_sync(export_rows, event.id)
    base = export_base_url(event)
    if base is None:
        print(
            f"error: イベント {event.slug} に公開URLが登録されていないため、参加証のリンクを作れません。"
            "管理画面のイベント設定で「公開URL」を入力するか、CHECKIN_BASE_URL を指定してください。\n"
            f"  event {event.slug} has no public base URL, so ticket links cannot be written: set it in the "
            "admin's event settings, or set CHECKIN_BASE_URL",
            file=sys.stderr,
        )
        return 1
    data = format_report(rows, base, file_format=file_format, english_headers=args.english_headers)
    Path(args.file).write_bytes(data)
    print(f"{len(rows)} 名を書き出しました（{file_format}） / wrote {len(rows)} registrants to {args.file}")
    return 0


def cmd_purge(args: argparse.Namespace, settings: Settings) -> int:
    with opened(settings) as db:
        event = db.read_sync(get_event, args.slug)
        the_plan = plan(db, event, settings.smtp.outbox)
        if the_plan.counts.purged_at is not None:
            print(f"削除済みです（{format_datetime(the_plan.counts.purged_at)}） / already purged")
            return 0
        check_ended(event, time.time(), force=args.force)
        print("\n".join(the_plan.lines()))
        if not args.yes:
            answer = input("実行しますか / proceed? [y/N] ").strip().lower()
            if answer not in {"y", "yes", "はい"}:
                print("中止しました / cancelled")
                return 1
        after = execute(db, the_plan, time.time(), "cli")
    print(f"匿名化しました（申込者 {after.registrants} 名） / purged: {after.registrants} registrants anonymised")
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """The subcommands of this module, added to the `checkin` parser."""
    tickets = sub.add_parser("tickets", help="ticket e-mail").add_subparsers(dest="action", required=True)
    send = tickets.add_parser("send", parents=[common], help="e-mail every ticket not yet sent (resumable)")
    send.add_argument("slug")
    send.add_argument("--dry-run", action="store_true", help="only count what would be sent")
    send.add_argument("--retry-interrupted", action="store_true", help="also send messages a dead run left unsure")
    send.set_defaults(handler=cmd_tickets_send)

    imp = sub.add_parser("import", parents=[common], help="import registrants from CSV (UTF-8, BOM or CP932)")
    imp.add_argument("slug")
    imp.add_argument("file")
    imp.add_argument("--skip-bad-rows", action="store_true", help="import the good rows, list the bad ones")
    imp.set_defaults(handler=cmd_import)

    exp = sub.add_parser("export", parents=[common], help="attendance report as CSV or Excel workbook (.xlsx)")
    exp.add_argument("slug")
    exp.add_argument("file")
    exp.add_argument("--format", choices=sorted(REPORT_FORMATS), help="csv or xlsx (default: from the file's suffix)")
    exp.add_argument("--english-headers", action="store_true")
    exp.set_defaults(handler=cmd_export)

    purge = sub.add_parser("purge", parents=[common], help="anonymise an event's personal data after it")
    purge.add_argument("slug")
    purge.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    purge.add_argument("--force", action="store_true", help="even before the event has ended")
    purge.set_defaults(handler=cmd_purge)

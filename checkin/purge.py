"""`checkin purge`: after the event, anonymise its personal data and keep the figures.

It first says exactly what it will change and what it keeps (counts), then does it in one
transaction, records `events.purged_at` and an audit entry, and deletes the event's messages in the
outbox folder (they hold names and addresses).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from checkin.display import format_datetime
from checkin.errors import NotEnded
from checkin.models import Event
from checkin.storage import Engine
from checkin.storage.purge import PurgeCounts, counts, purge


@dataclass(frozen=True)
class PurgePlan:
    event: Event
    counts: PurgeCounts
    outbox_files: tuple[Path, ...]

    def lines(self) -> list[str]:
        """What will happen, in Japanese then English, with counts."""
        c = self.counts
        return [
            f"「{self.event.title}」（{self.event.slug}）の個人情報を匿名化します。元に戻せません。",
            f"  申込者 {c.registrants} 名: 氏名・フリガナ・メールアドレス・所属・受付番号を置き換え、検索キーを消去",
            f"  参加証 {c.tickets} 枚: コードを置き換えて無効化",
            f"  受付記録 {c.scans} 件: 保持（コードはハッシュのみ。記録された応答から氏名などを削除）",
            f"  来場 {c.attendance} 名・オンライン視聴区間 {c.viewing_intervals} 件・"
            f"メール送信記録 {c.email_sends} 件: 保持",
            f"  送信箱の .eml ファイル {len(self.outbox_files)} 件: 削除",
            f"Anonymising the personal data of {self.event.slug}. This cannot be undone.",
            f"  {c.registrants} registrants: names, readings, e-mails, organisations and reference numbers replaced,"
            " search keys cleared",
            f"  {c.tickets} tickets: codes replaced and revoked",
            f"  {c.scans} scans: kept (codes as hashes only; names removed from the stored answers)",
            f"  {c.attendance} attendances, {c.viewing_intervals} viewing intervals,"
            f" {c.email_sends} e-mail sends: kept",
            f"  {len(self.outbox_files)} .eml files in the outbox: deleted",
        ]


def outbox_files(outbox: Path, slug: str) -> tuple[Path, ...]:
    """The event's messages in the outbox folder (named `{slug}-{send id}-{kind}.eml`)."""
    if not outbox.is_dir():
        return ()
    # only files directly in the folder, whatever an old slug holds ("../x" would reach outside)
    return tuple(sorted(path for path in outbox.glob(f"{slug}-*.eml") if path.parent == outbox))


def plan(db: Engine, event: Event, outbox: Path) -> PurgePlan:
    return PurgePlan(event, db.read_sync(counts, event.id), outbox_files(outbox, event.slug))


def check_ended(event: Event, now: float, *, force: bool) -> None:
    """Refuse before the event has ended, unless forced."""
    if now < event.ends_at and not force:
        ends = format_datetime(event.ends_at)
        raise NotEnded(
            f"イベントはまだ終わっていません（終了 {ends}）。--force で実行できます / the event has not ended"
        )


def execute(db: Engine, the_plan: PurgePlan, now: float, actor: str) -> PurgeCounts:
    """Anonymise (one transaction), then delete the outbox messages."""
    after = db.write_sync(purge, the_plan.event.id, now, actor)
    for path in the_plan.outbox_files:
        path.unlink(missing_ok=True)
    return after

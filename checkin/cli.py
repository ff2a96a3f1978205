"""The `checkin` command."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from checkin import cli_data, staffcli
from checkin.errors import CheckinError, Invalid
from checkin.eventform import LONG_TEXTS, TEXTS, parse_new_event
from checkin.settings import Settings, is_database_url, redacted
from checkin.storage import database_for, opened
from checkin.storage.events import create_event

Handler = Callable[[argparse.Namespace, Settings], int]


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from checkin import serving
    from checkin.app import create_app
    from checkin.server import uvicorn_options

    settings = settings_for_serve(args, settings)
    problem = serving.refusal(args.workers, settings.db_url, settings.redis_url)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    if args.demo:
        show_demo(settings)
    if args.workers > 1:
        with opened(settings):  # a database that cannot be opened stops here, with one message
            pass
        return serving.run_workers(settings, args.host, args.port, args.workers)
    app = create_app(settings)
    uvicorn.run(app, host=args.host, port=args.port, **uvicorn_options(settings))
    return 0


def settings_for_serve(args: argparse.Namespace, settings: Settings) -> Settings:
    from dataclasses import replace

    if "CHECKIN_BASE_URL" not in os.environ:
        host = "127.0.0.1" if args.host in {"0.0.0.0", "::"} else args.host  # noqa: S104
        settings = replace(settings, base_url=f"http://{host}:{args.port}")
    return settings


def show_demo(settings: Settings) -> None:
    from checkin.demo import ensure_demo

    with opened(settings) as db:
        event, creds = ensure_demo(db, time.time())
    base = settings.base_url
    print(f"デモイベント / demo event: {event.title}")
    print(f"  申込ページ / registration: {base}/e/{event.slug}/")
    print(f"  受付端末 / kiosk:          {base}/kiosk")
    print(f"  ダッシュボード / dashboard: {base}/dashboard/{event.slug}")
    print(f"  管理 / admin:              {base}/admin")
    if creds is not None:
        print(f"  organiser: {creds.organiser_login} / {creds.organiser_password}  ({base}/admin/login)")
        print(f"  kiosk:     {base}/kiosk#token={creds.kiosk_token}")
        print(f"  projector: {base}/dashboard/{event.slug}#token={creds.dashboard_token}")
    else:
        print("  (credentials were printed on the first run; `checkin token create` makes new ones)")
    sys.stdout.flush()


# `checkin event create` options for what the flyer says: --fee, --fee-en, --programme ... (the admin's fields).
FLYER_OPTIONS = (*(name for name in (*TEXTS, *LONG_TEXTS) if name not in {"title", "venue_name"}), "doors_open_at")


def cmd_event_create(args: argparse.Namespace, settings: Settings) -> int:
    # The same checks as the admin's creation form: a slug names files and URL paths, a stream URL
    # becomes a player on the watch page.
    form = {
        "slug": args.slug,
        "title": args.title,
        "starts_at": args.starts,
        "ends_at": args.ends,
        "capacity": args.capacity,
        "hall_capacity": args.hall_capacity or "",
        "stream_url": args.stream_url or "",
        "venue_name": args.venue or "",
        "registration_open": "on",
        "waitlist_enabled": "on",
        "projector_names": "on" if args.projector_names else "",
        # Ticket links are built on this address; without --base-url or CHECKIN_BASE_URL none is stored
        # and `checkin export` refuses to guess one.
        "base_url": args.base_url or os.environ.get("CHECKIN_BASE_URL", ""),
    }
    for name in FLYER_OPTIONS:
        value = getattr(args, name)
        # A repeated option is one line each (--programme "表彰式" --programme "講評").
        form[name] = "\n".join(value) if isinstance(value, list) else (value or "")
    try:
        event = parse_new_event(form)
    except Invalid as exc:
        for name, problem in sorted(exc.fields.items()):
            print(f"error: {name}: {problem} ({form.get(name, '')!r})", file=sys.stderr)
        return 1
    with opened(settings) as db:
        db.write_sync(create_event, event, time.time())
    print(f"created event {args.slug}")
    if not event.base_url:
        print("note: no public base URL stored (--base-url or CHECKIN_BASE_URL); set it in the admin before export")
    return 0


def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    db = database_for(settings)
    target = Path(args.file)
    if target.exists():
        print(f"error: {target} exists", file=sys.stderr)
        return 1
    db.backup(target)
    print(f"backed up {settings.database} to {target}")
    return 0


def cmd_copy_db(args: argparse.Namespace, settings: Settings) -> int:
    from checkin.storage.copy import copy_database

    if settings.db_url:
        print("error: copy-db copies an SQLite database (--db FILE) into PostgreSQL", file=sys.stderr)
        return 1
    if not is_database_url(args.to):
        print("error: --to must be a postgresql://user@host:port/dbname URL", file=sys.stderr)
        return 1
    copies, committed = copy_database(settings.db_path, args.to)
    print(f"{'table':<20} {'sqlite':>8} {'postgresql':>10}  checksum")
    for copy in copies:
        print(f"{copy.table:<20} {copy.source_rows:>8} {copy.target_rows:>10}  {'same' if copy.same else 'DIFFERENT'}")
    if not committed:
        print("error: the copy differs from the source; nothing was committed", file=sys.stderr)
        return 1
    print(f"copied {settings.db_path} to {redacted(args.to)} ({sum(c.source_rows for c in copies)} rows)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="checkin", description="Event-day check-in and hybrid attendance.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db",
        help="an SQLite file or a postgresql://user@host:port/dbname URL (default: $CHECKIN_DB or ./checkin.db)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", parents=[common], help="run the server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--demo", action="store_true", help="seed the demo symposium and print its URLs")
    serve.add_argument(
        "--workers", type=int, default=1, help="server processes on the one port (more than 1: PostgreSQL and Redis)"
    )
    serve.set_defaults(handler=cmd_serve)

    event = sub.add_parser("event", help="events").add_subparsers(dest="action", required=True)
    create = event.add_parser("create", parents=[common], help="create an event")
    create.add_argument("slug")
    create.add_argument("--title", required=True)
    create.add_argument("--starts", required=True, help="ISO 8601, e.g. 2023-11-27T13:30+09:00")
    create.add_argument("--ends", required=True)
    create.add_argument("--capacity", required=True, help="registration capacity: venue seats the form gives")
    create.add_argument("--hall-capacity", help="people in the hall at once (default: the same as --capacity)")
    create.add_argument("--stream-url")
    create.add_argument("--venue")
    create.add_argument(
        "--projector-names", action="store_true", help="show who checked in on the projector (dashboard token)"
    )
    create.add_argument("--base-url", help="public address of ticket links (default: $CHECKIN_BASE_URL)")
    for name in FLYER_OPTIONS:
        option = "--" + name.replace("_", "-")
        if name in LONG_TEXTS:
            create.add_argument(option, action="append", help="one line each time it is given")
        else:
            create.add_argument(option, help="ISO 8601, like --starts" if name == "doors_open_at" else None)
    create.set_defaults(handler=cmd_event_create)

    staffcli.add_commands(sub, common)

    backup = sub.add_parser("backup", parents=[common], help="consistent online backup of the database")
    backup.add_argument("file")
    backup.set_defaults(handler=cmd_backup)

    copy_db = sub.add_parser(
        "copy-db", parents=[common], help="copy the whole SQLite database into an empty PostgreSQL database"
    )
    copy_db.add_argument("--to", required=True, help="postgresql://user@host:port/dbname (an empty database)")
    copy_db.set_defaults(handler=cmd_copy_db)

    cli_data.add_parsers(sub, common)

    from checkin.rehearsal.run import add_parser as add_rehearse

    add_rehearse(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `checkin` console script."""
    args = build_parser().parse_args(argv)
    settings = Settings.from_env()
    if getattr(args, "db", None):
        settings = settings.with_db(args.db)
    handler: Handler = args.handler
    try:
        return handler(args, settings)
    except CheckinError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

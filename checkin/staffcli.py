"""The staff commands of `checkin`: API tokens (`token create|list|revoke`) and logins (`user add|passwd|disable`)."""

from __future__ import annotations

import argparse
import getpass
import sys
import time

from checkin import staff
from checkin.errors import Invalid
from checkin.models import Role, iso
from checkin.settings import Settings
from checkin.storage import opened
from checkin.storage import users as user_store
from checkin.storage.events import get_event, list_events
from checkin.storage.staff import create_token, list_tokens, revoke_token


def cmd_token_create(args: argparse.Namespace, settings: Settings) -> int:
    with opened(settings) as db:
        event = db.read_sync(get_event, args.slug)
        _, secret = db.write_sync(create_token, event.id, Role(args.role), args.name, time.time())
    print(f"{args.role} token for {args.slug} ({args.name}):", file=sys.stderr)
    print(secret)
    return 0


def cmd_token_list(args: argparse.Namespace, settings: Settings) -> int:
    with opened(settings) as db:
        event = db.read_sync(get_event, args.slug)
        tokens = db.read_sync(list_tokens, event.id)
    print("id\trole\tname\tcreated\trevoked")
    for token in tokens:
        print(f"{token.id}\t{token.role}\t{token.name}\t{iso(token.created_at)}\t{iso(token.revoked_at) or '-'}")
    return 0


def cmd_token_revoke(args: argparse.Namespace, settings: Settings) -> int:
    with opened(settings) as db:
        token = db.write_sync(revoke_token, args.id, time.time(), "cli")
    print(f"revoked token {token.id} ({token.role}, {token.name})")
    return 0


def read_password(from_stdin: bool) -> str:
    """A new password: one line of standard input, or typed twice at a prompt."""
    try:
        if from_stdin:
            return staff.validate_password(sys.stdin.readline().rstrip("\r\n"))
        password = staff.validate_password(getpass.getpass("password / パスワード: "))
        again = getpass.getpass("again / 確認: ")
    except EOFError as exc:
        raise Invalid("no password given") from exc
    if again != password:
        raise Invalid("the two passwords differ")
    return password


def cmd_user_add(args: argparse.Namespace, settings: Settings) -> int:
    login = staff.validate_login(args.login)
    password_hash = staff.hash_password(read_password(args.password_stdin))
    with opened(settings) as db:
        db.write_sync(user_store.create_user, login, password_hash, Role(args.role), time.time())
        events = db.read_sync(list_events)
    print(f"added {args.role} login {login!r}; sign in at {settings.base_url}/admin/login")
    if not events:
        print("(no event yet: create one with `checkin event create` or in the admin)")
    return 0


def cmd_user_passwd(args: argparse.Namespace, settings: Settings) -> int:
    login = staff.login_key(args.login)
    with opened(settings) as db:
        db.read_sync(user_store.get_user, login)
        password_hash = staff.hash_password(read_password(args.password_stdin))
        db.write_sync(user_store.set_password, login, password_hash, time.time())
    print(f"password of {login!r} changed; its sessions have ended")
    return 0


def cmd_user_disable(args: argparse.Namespace, settings: Settings) -> int:
    login = staff.login_key(args.login)
    with opened(settings) as db:
        db.write_sync(user_store.disable_user, login, time.time())
    print(f"login {login!r} disabled; its sessions have ended (`checkin user passwd` enables it again)")
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """Register `token ...` and `user ...` on the main parser."""
    token = sub.add_parser("token", help="API tokens").add_subparsers(dest="action", required=True)
    create = token.add_parser("create", parents=[common], help="print a new API token")
    create.add_argument("slug")
    create.add_argument("--role", choices=[r.value for r in Role], required=True)
    create.add_argument("--name", required=True)
    create.set_defaults(handler=cmd_token_create)
    listing = token.add_parser("list", parents=[common], help="an event's API tokens")
    listing.add_argument("slug")
    listing.set_defaults(handler=cmd_token_list)
    revoke = token.add_parser("revoke", parents=[common], help="revoke an API token (by id, see `token list`)")
    revoke.add_argument("id", type=int)
    revoke.set_defaults(handler=cmd_token_revoke)

    user = sub.add_parser("user", help="staff logins").add_subparsers(dest="action", required=True)
    add = user.add_parser("add", parents=[common], help="add a staff login")
    add.add_argument("login")
    add.add_argument("--role", choices=[Role.ORGANISER.value], default=Role.ORGANISER.value)
    passwd = user.add_parser("passwd", parents=[common], help="set a login's password (and enable it)")
    passwd.add_argument("login")
    for command, handler in ((add, cmd_user_add), (passwd, cmd_user_passwd)):
        command.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
        command.set_defaults(handler=handler)
    disable = user.add_parser("disable", parents=[common], help="stop a login from signing in")
    disable.add_argument("login")
    disable.set_defaults(handler=cmd_user_disable)

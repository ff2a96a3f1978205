"""The files in deploy/ agree with the program: the units' command, the ports nginx expects, the settings."""

from __future__ import annotations

import re
import shlex
from configparser import ConfigParser
from pathlib import Path

from checkin.cli import build_parser

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
SOURCE = Path(__file__).resolve().parent.parent / "checkin"


def unit(name: str) -> ConfigParser:
    parser = ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((DEPLOY / name).read_text())
    return parser


def test_the_service_runs_a_command_checkin_accepts() -> None:
    """checkin@.service's ExecStart, for instance 8001, is a valid `checkin serve` on 127.0.0.1:8001."""
    command = shlex.split(unit("checkin@.service")["Service"]["ExecStart"].replace("%i", "8001"))
    assert command[0].endswith("/checkin")
    args = build_parser().parse_args(command[1:])
    assert (args.command, args.host, args.port, args.workers) == ("serve", "127.0.0.1", 8001, 1)


def test_the_target_starts_the_servers_nginx_sends_to() -> None:
    """The instances checkin.target wants are the upstream servers of deploy/nginx.conf."""
    wanted = unit("checkin.target")["Unit"]["Wants"].split()
    ports = {int(name.removeprefix("checkin@").removesuffix(".service")) for name in wanted}
    upstream = {int(port) for port in re.findall(r"server 127\.0\.0\.1:(\d+)", (DEPLOY / "nginx.conf").read_text())}
    assert ports == upstream and len(ports) == 3


def test_the_environment_file_sets_only_settings_checkin_reads() -> None:
    """Every variable of deploy/checkin.env is read by checkin (a misspelt name would be ignored silently)."""
    names = re.findall(r"^(CHECKIN_\w+)=", (DEPLOY / "checkin.env").read_text(), flags=re.MULTILINE)
    source = "\n".join(path.read_text() for path in SOURCE.rglob("*.py"))
    assert names and [name for name in names if f'"{name}"' not in source] == []

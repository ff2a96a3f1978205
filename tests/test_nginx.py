"""deploy/nginx.conf in front of three `checkin serve` processes: pages, the door, dashboards, addresses, failover."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
import signal
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from checkin.models import Event, Role
from checkin.settings import Settings
from checkin.storage import opened
from checkin.storage.admin import address_counts
from tests.conftest import make_token
from tests.door_helpers import code_of, register, scan_id
from tests.serve_process import ServerProcess, backend, shared, start
from tests.shared_redis import redis_prefix
from tests.utils import free_port

__all__ = ["backend", "redis_prefix", "shared"]  # fixtures: PostgreSQL and Redis for the three servers
pytestmark = pytest.mark.slow

CONFIG = Path(__file__).resolve().parent.parent / "deploy" / "nginx.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
VISITOR = "127.0.0.2"  # the client's own address (loopback has them all), not nginx's 127.0.0.1
WAIT = 60.0
SELF_SIGNED = ("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1")


def site_config(tmp: Path, upstreams: list[int], plain: int, tls: int) -> str:
    """deploy/nginx.conf with this test's ports and certificate: every line that is changed must be found."""
    text = CONFIG.read_text()
    replacements = [
        (r"127\.0\.0\.1:800([1-3])", lambda m: f"127.0.0.1:{upstreams[int(m[1]) - 1]}", 3),
        (r"\n\s*listen \[::\]:\d+[^;]*;", lambda m: "", 2),
        (r"listen 80;", lambda m: f"listen 127.0.0.1:{plain};", 1),
        (r"listen 443 ssl", lambda m: f"listen 127.0.0.1:{tls} ssl", 1),
        (r"/etc/letsencrypt/live/checkin\.example\.jp/", lambda m: f"{tmp}/", 2),
        (r"/var/log/nginx/", lambda m: f"{tmp}/", 2),
    ]
    for pattern, replacement, expected in replacements:
        text, count = re.subn(pattern, replacement, text)
        assert count == expected, f"deploy/nginx.conf changed: {pattern!r} found {count} times"
    return text


def main_config(tmp: Path) -> str:
    """A whole nginx configuration around the site, every file it writes under tmp."""
    temp = "\n".join(
        f"    {kind}_temp_path {tmp}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"user root;\nworker_processes 1;\nerror_log {tmp}/error.log info;\npid {tmp}/nginx.pid;\n"
        "events { worker_connections 1024; }\n"
        f"http {{\n    access_log {tmp}/access.log;\n{temp}\n    include {tmp}/checkin.conf;\n}}\n"
    )


@dataclass
class Door:
    """nginx on `url` in front of `servers`."""

    url: str
    plain_url: str
    servers: list[ServerProcess]
    env: dict[str, str]
    logs: Path

    def restart(self, number: int) -> None:
        """Start server `number` again on its port (after it was stopped), and wait until nginx uses it again."""
        old = self.servers[number]
        self.servers[number] = start(self.logs / "unused.db", old.port, old.log, self.env)
        upstream = f" 127.0.0.1:{old.port}"
        deadline = time.monotonic() + WAIT
        with self.client() as client:
            while not self.access_log().rstrip().endswith(upstream):
                assert time.monotonic() < deadline, f"nginx never used {upstream} again"
                client.get("/healthz")

    def access_log(self) -> str:
        return (self.logs / "checkin.access.log").read_text()

    def client(self) -> httpx.Client:
        transport = httpx.HTTPTransport(local_address=VISITOR, verify=False)
        return httpx.Client(base_url=self.url, transport=transport, timeout=30)


@contextlib.contextmanager
def nginx_in_front(tmp: Path, env: dict[str, str]) -> Iterator[Door]:
    """Three servers and nginx before them, stopped at the end."""
    subprocess.run(
        [*SELF_SIGNED, "-keyout", str(tmp / "privkey.pem"), "-out", str(tmp / "fullchain.pem")],
        check=True,
        capture_output=True,
    )
    ports = [free_port() for _ in range(3)]
    plain, tls = free_port(), free_port()
    (tmp / "checkin.conf").write_text(site_config(tmp, ports, plain, tls))
    (tmp / "nginx.conf").write_text(main_config(tmp))
    servers: list[ServerProcess] = []
    nginx = None
    try:
        for number, port in enumerate(ports, 1):
            servers.append(start(tmp / "unused.db", port, tmp / f"serve{number}.log", env))
        nginx = subprocess.Popen(
            [NGINX, "-c", str(tmp / "nginx.conf"), "-g", "daemon off;"], stderr=subprocess.PIPE, text=True
        )
        door = Door(f"https://127.0.0.1:{tls}", f"http://127.0.0.1:{plain}", servers, env, tmp)
        deadline = time.monotonic() + WAIT
        while True:
            assert nginx.poll() is None, nginx.stderr.read() if nginx.stderr else ""
            with contextlib.suppress(httpx.HTTPError), door.client() as client:
                if client.get("/healthz").status_code == 200:
                    break
            assert time.monotonic() < deadline, "nginx did not answer"
            time.sleep(0.1)
        yield door
    finally:
        if nginx is not None:
            nginx.send_signal(signal.SIGQUIT)  # nginx's graceful stop
            try:
                nginx.wait(timeout=WAIT)
            except subprocess.TimeoutExpired:
                nginx.kill()
        for server in servers:
            server.stop()


@pytest.fixture
def door(event: Event, shared: dict[str, str], tmp_path: Path) -> Iterator[Door]:
    """deploy/nginx.conf before three servers on one PostgreSQL database and Redis, believing nginx's headers."""
    env = {**shared, "CHECKIN_TRUSTED_PROXIES": "127.0.0.1", "CHECKIN_RATE_LIMITS": "on"}
    with nginx_in_front(tmp_path, env) as running:
        yield running


def tls_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def scan(client: httpx.Client, token: str, code: str) -> dict[str, Any]:
    """One kiosk scan through the door; its answer (any error status fails the test)."""
    response = client.post(
        "/api/v1/events/sympo/scans",
        json={"code": code, "scan_id": scan_id()},
        headers={"authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_pages_and_the_door_through_nginx(door: Door, settings: Settings, event: Event) -> None:
    """Pages load over TLS, a kiosk scan checks a ticket in, plain HTTP is sent to HTTPS."""
    token = make_token(settings, event, Role.KIOSK, "受付1")
    with opened(settings) as db:
        code = code_of(register(db, event, 1)[0])
    with door.client() as client:
        for path in ("/e/sympo/", "/kiosk/", "/admin/login"):
            response = client.get(path)
            assert response.status_code == 200 and "text/html" in response.headers["content-type"], path
        # The servers read X-Forwarded-Proto: the visitor came over HTTPS, so the login form's cookie is Secure.
        assert "secure" in client.get("/admin/login").headers["set-cookie"].lower()
        assert client.get(door.plain_url + "/e/sympo/").headers["location"] == "https://127.0.0.1/e/sympo/"
        assert scan(client, token, code)["result"] == "ok"
        assert scan(client, token, code)["result"] == "already_checked_in"
        too_big = client.post("/api/v1/events/sympo/registrations", content=b"{" + b" " * 70_000 + b"}")
        assert too_big.status_code == 413


def test_the_app_sees_the_visitors_address_not_nginx(door: Door, settings: Settings, event: Event) -> None:
    """Registrations count under the visitor's address (admin 申込元), whatever X-Forwarded-For it sends."""
    person = {"name": "遠隔 花子", "kana": "エンカク ハナコ", "email": "hanako@example.jp", "mode": "venue"}
    with door.client() as client:
        response = client.post(
            "/api/v1/events/sympo/registrations", json=person, headers={"x-forwarded-for": "203.0.113.9"}
        )
    assert response.status_code == 201, response.text
    with opened(settings) as db:
        addresses = {item.address: item.registrations for item in db.read_sync(address_counts, event.id)}
    assert addresses == {VISITOR: 1}


async def test_dashboard_socket_through_nginx(door: Door, settings: Settings, event: Event) -> None:
    """A dashboard's websocket is upgraded through nginx and gets its snapshots, a check-in included."""
    kiosk = make_token(settings, event, Role.KIOSK, "受付1")
    token = make_token(settings, event, Role.DASHBOARD)
    with opened(settings) as db:
        code = code_of(register(db, event, 1)[0])
    url = door.url.replace("https://", "wss://") + f"/ws/events/sympo/dashboard?token={token}"
    async with websockets.connect(url, ssl=tls_context()) as socket:
        first = json.loads(await asyncio.wait_for(socket.recv(), WAIT))
        assert first["type"] == "snapshot" and first["venue"]["checked_in"] == 0
        with door.client() as client:
            await asyncio.to_thread(scan, client, kiosk, code)
        while (snapshot := json.loads(await asyncio.wait_for(socket.recv(), WAIT)))["venue"]["checked_in"] != 1:
            pass
    assert snapshot["type"] == "snapshot"
    deadline = time.monotonic() + WAIT
    while "/ws/events/sympo/dashboard" not in door.access_log():  # written once nginx has closed both sides
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    assert not [log for log in door.logs.glob("*.log") if token in log.read_text()]  # no credential logged


def test_the_door_keeps_answering_while_a_server_is_down(door: Door, settings: Settings, event: Event) -> None:
    """One server stopped (SIGTERM), later another killed (kill -9): every page and scan is still answered."""
    token = make_token(settings, event, Role.KIOSK, "受付1")
    with opened(settings) as db:
        codes = [code_of(registration) for registration in register(db, event, 40)]

    def every_request_answered(codes: list[str]) -> None:
        with door.client() as client:
            for code in codes:
                assert scan(client, token, code)["result"] == "ok"
                assert client.get("/e/sympo/").status_code == 200

    every_request_answered(codes[:10])
    door.servers[0].stop()
    every_request_answered(codes[10:20])
    door.restart(0)
    door.servers[1].kill()
    every_request_answered(codes[20:40])


class Dashboard:
    """A dashboard page's socket through nginx: it reconnects when closed, as the page does, noting each close code."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.closes: list[int | None] = []
        self.latest: dict[str, Any] = {}

    async def follow(self) -> None:
        while True:
            async with websockets.connect(self.url, ssl=tls_context()) as socket:
                with contextlib.suppress(websockets.ConnectionClosed):
                    async for message in socket:
                        self.latest = json.loads(message)
                self.closes.append(socket.close_code)


async def test_a_rolling_restart_keeps_the_door_open_and_dashboards_follow(
    door: Door, settings: Settings, event: Event
) -> None:
    """Each server restarted in turn: every scan is answered; the dashboard is told 1012, comes back, is current."""
    kiosk = make_token(settings, event, Role.KIOSK, "受付1")
    token = make_token(settings, event, Role.DASHBOARD)
    with opened(settings) as db:
        codes = [code_of(registration) for registration in register(db, event, 9)]
    dashboard = Dashboard(door.url.replace("https://", "wss://") + f"/ws/events/sympo/dashboard?token={token}")
    following = asyncio.create_task(dashboard.follow())
    try:
        with door.client() as client:
            for number in range(3):
                await asyncio.to_thread(door.servers[number].stop)
                for code in codes[3 * number : 3 * number + 3]:
                    assert (await asyncio.to_thread(scan, client, kiosk, code))["result"] == "ok"
                await asyncio.to_thread(door.restart, number)
        deadline = time.monotonic() + WAIT
        while dashboard.latest.get("venue", {}).get("checked_in") != len(codes):
            assert time.monotonic() < deadline, dashboard.latest
            await asyncio.sleep(0.1)
    finally:
        following.cancel()
    assert dashboard.closes and set(dashboard.closes) == {1012}

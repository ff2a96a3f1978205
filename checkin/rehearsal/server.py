"""The rehearsal's own server: `checkin serve` on a temporary SQLite database (or, for the scale-out, on the
PostgreSQL database and Redis it was given), set up as an organiser would (`checkin event create`,
`checkin token create`), which it may kill -9 and start again. It only ever kills the process it started."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class OwnServer:
    """`checkin serve` in a subprocess, limits off, mail to an outbox folder (no SMTP host)."""

    workdir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    number: int = 1  # of the rehearsal's servers, from 1
    shared: dict[str, str] = field(default_factory=dict)  # CHECKIN_DB and CHECKIN_REDIS_* of the scale-out

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def outbox(self) -> Path:
        return self.workdir / "outbox"  # one folder for every server: the mails are counted together

    @property
    def log(self) -> Path:
        return self.workdir / ("server.log" if self.number == 1 else f"server-{self.number}.log")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHECKIN_")}
        return {
            **env,
            "CHECKIN_DB": str(self.workdir / "rehearsal.db"),
            "CHECKIN_OUTBOX": str(self.outbox),
            "CHECKIN_RATE_LIMITS": "off",
            "CHECKIN_BASE_URL": self.url,
            # a rehearsal database is thrown away: no fsync per commit (a kill -9 still loses nothing committed)
            "CHECKIN_SQLITE_SYNCHRONOUS": "NORMAL",
            **self.shared,
        }

    def cli(self, *args: str) -> str:
        """Run a `checkin` command on the rehearsal's database; its standard output."""
        done = subprocess.run(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "-m", "checkin.cli", *args], env=self.env(), capture_output=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"checkin {args[0]} failed: {done.stderr.decode(errors='replace').strip()}")
        return done.stdout.decode().strip()

    def token(self, slug: str, role: str, name: str) -> str:
        return self.cli("token", "create", slug, "--role", role, "--name", name).splitlines()[-1]

    def start(self) -> float:
        """Start the server and wait until it answers; seconds it took."""
        began = time.monotonic()
        self.launch()
        return self.ready(began)

    def launch(self) -> None:
        with open(self.log, "ab") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                [sys.executable, "-m", "checkin.cli", "serve", "--port", str(self.port)],
                env=self.env(),
                stdout=subprocess.DEVNULL,
                stderr=log,
            )

    def ready(self, began: float) -> float:
        """Wait until the launched server answers; seconds since `began`."""
        assert self.process is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return time.monotonic() - began
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"the server did not start (see {self.log})")

    def kill9(self) -> None:
        """SIGKILL the server we started (no clean stop: the crash the rehearsal survives)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def restart(self) -> float:
        self.restarts += 1
        return self.start()

    def stop(self) -> None:
        stop_process(self.process, 20)


def stop_process(process: subprocess.Popen[bytes] | None, wait: float) -> None:
    """Stop a process we started as a service manager does: SIGTERM, then SIGKILL after `wait` seconds."""
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

"""`checkin serve --workers N`: one listening socket, N forked server processes, a parent that watches them.

The parent imports the whole application and compiles its templates, binds the socket, then forks: what
it loaded stays shared by the children, page for page, until one of them writes to it (`gc.freeze` keeps
the collector from touching, and so copying, those objects). When it forks, the parent holds no thread,
event loop or database connection (`checkin serve` opens the database once before, so a wrong URL stops
it with one message, and closes it): each child builds its own services after the fork (the database
pool or writer, the QR render processes, which are spawned) and runs uvicorn's Server with our protocols
on the inherited socket; the kernel hands each new connection to one of them.

The parent restarts a child that dies. On SIGTERM or SIGINT it closes its copy of the socket and tells
every child to drain (in-flight requests are answered, websockets closed with 1012), and exits 0 once all
have. The processes share nothing in memory, so they must share it elsewhere: PostgreSQL for the data
(SQLite has one writer per process) and Redis for the live hub, viewer presence and limits.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import logging.config
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import uvicorn
from uvicorn.config import LOGGING_CONFIG, STARTUP_FAILURE

from checkin.settings import Settings

log = logging.getLogger("uvicorn.error")

STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})
WATCHED = STOP_SIGNALS | {signal.SIGCHLD}
# A child that dies sooner than this after it was started is replaced after a pause that doubles each
# time (up to MAX_RESTART_DELAY): a server that cannot start must not fork in a tight loop.
STEADY_SECONDS = 10.0
FIRST_RESTART_DELAY = 0.5
MAX_RESTART_DELAY = 30.0
PR_SET_PDEATHSIG = 1
BACKLOG = 2048  # uvicorn's default
# How often a child hands the C heap's free pages back to the system (see `release_free_memory`).
TRIM_EVERY = 60.0


def refusal(workers: int, database_url: str, redis_url: str) -> str | None:
    """Why `workers` processes cannot serve with this PostgreSQL URL (empty: SQLite) and Redis URL (None: they can)."""
    if workers < 1:
        return "--workers must be 1 or more"
    if workers == 1:
        return None
    missing = []
    if not database_url:
        missing.append("CHECKIN_DB (or --db) set to a postgresql://user@host:port/dbname URL")
    if not redis_url:
        missing.append("CHECKIN_REDIS_URL set to redis://host:port/N")
    if not missing:
        return None
    return (
        f"--workers {workers} runs separate processes, which share data only through PostgreSQL and live "
        f"state only through Redis; it needs {' and '.join(missing)} (or run one process: --workers 1)"
    )


def run_workers(settings: Settings, host: str, port: int, workers: int) -> int:
    """Serve on host:port with `workers` forked processes until SIGTERM or SIGINT; the exit status."""
    logging.config.dictConfig(LOGGING_CONFIG)
    preload()
    listener = listen(host, port)
    log.info("Listening on http://%s:%d with %d worker processes (supervisor %d)", host, port, workers, os.getpid())
    return Supervisor(workers, lambda ready: serve_one(settings, listener, ready), listener).run()


def preload() -> None:
    """Import and compile in the parent what every child uses, so the memory holding it is shared."""
    import uvicorn.lifespan.on
    import uvicorn.protocols.http.httptools_impl  # noqa: F401

    import checkin.app  # noqa: F401  (every module of every route)
    from checkin.display import env

    with contextlib.suppress(ImportError):
        import uvloop  # noqa: F401
    for name in env.list_templates():
        env.get_template(name)
    limit_heaps()
    gc.freeze()


M_ARENA_MAX = -8  # glibc's mallopt parameter


def limit_heaps(heaps: int = 2) -> bool:
    """At most `heaps` C heaps (glibc arenas) in each process, instead of one per thread up to eight per core: a
    worker's threads (the database's, the default executor's) each kept freed memory of its own in a heap of
    its own. False where the C library has no `mallopt`."""
    mallopt = _libc("mallopt")
    return mallopt is not None and bool(mallopt(M_ARENA_MAX, heaps))


def _libc(name: str) -> Callable[..., int] | None:
    """A function of the C library this process runs on, or None where it has no such function (not glibc)."""
    try:
        function: Callable[..., int] = getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None
    return function


def listen(host: str, port: int) -> socket.socket:
    """The listening socket every child accepts on."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=BACKLOG)


def serve_one(settings: Settings, listener: socket.socket, ready: Callable[[], None]) -> int:
    """In a child: build the application and its services, and serve on the inherited socket until told to stop."""
    from checkin.app import create_app
    from checkin.server import uvicorn_options

    config = uvicorn.Config(create_app(settings), **uvicorn_options(settings))
    WorkerServer(config, ready).run(sockets=[listener])
    return 0


class WorkerServer(uvicorn.Server):
    """uvicorn's Server in a forked child.

    The child starts with SIGTERM and SIGINT blocked (the parent waits for them that way): they are let
    through only once the server's handlers are in, so a stop sent while the child was starting is not
    lost. It tells the parent once it serves. At the end nothing is re-raised (uvicorn would kill the
    process with the signal it got): the child exits 0 after a clean drain.
    """

    def __init__(self, config: uvicorn.Config, ready: Callable[[], None]) -> None:
        super().__init__(config)
        self.ready = ready

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        for signum in STOP_SIGNALS:
            signal.signal(signum, self.handle_exit)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            threading.Thread(target=trim_every, args=(TRIM_EVERY,), name="trim", daemon=True).start()
            self.ready()


def release_free_memory() -> bool:
    """Give the pages the C heap holds free back to the system (glibc's `malloc_trim`); False where the C library
    has no such call.

    A worker with thousands of sockets frees as much as it allocates (frames, snapshots, presence batches), but
    glibc keeps freed pages inside its heaps for reuse: at 50,000 viewers that was 5–7 MiB of PSS a worker. In a
    thread of its own: it walks the heaps under their locks for a few milliseconds, without holding up the loop.
    """
    trim = _libc("malloc_trim")
    if trim is None:
        return False
    trim(0)
    return True


def trim_every(seconds: float) -> None:
    """Release the C heap's free pages every `seconds`, for as long as the process lives."""
    while release_free_memory():
        time.sleep(seconds)


@dataclass
class Child:
    """A forked child as the parent sees it."""

    started_at: float  # monotonic
    serving: bool = False  # it said it had started


class Supervisor:
    """Forks `workers` children that each run `child(ready)`, replaces those that die, stops them all on a signal.

    A child calls `ready()` once it serves; the parent learns of it through a pipe (the child's pid).
    """

    def __init__(self, workers: int, child: Callable[[Callable[[], None]], int], listener: socket.socket) -> None:
        self.workers = workers
        self.child = child
        self.listener = listener
        self.children: dict[int, Child] = {}
        self.restarts: list[float] = []  # when to fork a replacement (monotonic)
        self.delay = 0.0
        self.stopping = False
        self.failed = False
        self.ready_from, self.ready_to = os.pipe()
        os.set_blocking(self.ready_from, False)

    def run(self) -> int:
        """Start the children and watch them until all have ended after a stop; 0, or 1 if none could start."""
        signal.pthread_sigmask(signal.SIG_BLOCK, WATCHED)
        try:
            for _ in range(self.workers):
                self._fork()
            while self.children or self.restarts:
                now = time.monotonic()
                timeout = min([1.0, *(at - now for at in self.restarts)])
                received = signal.sigtimedwait(WATCHED, max(0.0, timeout))
                if received is not None and received.si_signo in STOP_SIGNALS:
                    self.stop()
                self._note_ready()
                self._reap()
                self._restart_due()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, WATCHED)
            os.close(self.ready_from)
            os.close(self.ready_to)
        return 1 if self.failed else 0

    def stop(self) -> None:
        """Drain: no new connections, children told to finish; a second stop makes them quit at once."""
        if self.stopping:
            self._signal_all(signal.SIGINT)  # uvicorn's second Ctrl-C: stop waiting for connections
            return
        self.stopping = True
        self.restarts.clear()
        self.listener.close()
        log.info("Stopping %d worker processes", len(self.children))
        self._signal_all(signal.SIGTERM)

    def _signal_all(self, signum: int) -> None:
        for pid in self.children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def _reap(self) -> None:
        while self.children:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                return
            self._note_ready()
            child = self.children.pop(pid, None)
            if child is not None:
                self._ended(pid, os.waitstatus_to_exitcode(status), time.monotonic() - child.started_at)

    def _note_ready(self) -> None:
        with contextlib.suppress(BlockingIOError):
            for pid in os.read(self.ready_from, 65536).split():
                if int(pid) in self.children:
                    self.children[int(pid)].serving = True

    def _ended(self, pid: int, code: int, lived: float) -> None:
        how = f"signal {-code}" if code < 0 else f"status {code}"
        if self.stopping:
            log.info("Worker %d ended (%s)", pid, how)
            return
        if code == STARTUP_FAILURE and not any(child.serving for child in self.children.values()):
            log.error("Worker %d could not start (%s) and no other is serving: stopping", pid, how)
            self.failed = True
            self.stop()
            return
        quick = lived < STEADY_SECONDS
        self.delay = min(MAX_RESTART_DELAY, max(FIRST_RESTART_DELAY, 2 * self.delay)) if quick else 0.0
        log.warning("Worker %d ended (%s) after %.1f s; starting another in %.1f s", pid, how, lived, self.delay)
        self.restarts.append(time.monotonic() + self.delay)

    def _restart_due(self) -> None:
        now = time.monotonic()
        due = [at for at in self.restarts if at <= now]
        self.restarts = [at for at in self.restarts if at > now]
        for _ in due:
            self._fork()

    def _fork(self) -> None:
        parent = os.getpid()
        pid = os.fork()
        if pid:
            self.children[pid] = Child(time.monotonic())
            return
        code = 1
        try:
            os.close(self.ready_from)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
            die_with_parent(parent)
            code = self.child(self._ready)
        except SystemExit as exc:  # uvicorn exits with STARTUP_FAILURE when the application cannot start
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            log.exception("Worker %d failed", os.getpid())
        finally:
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)

    def _ready(self) -> None:
        """In a child: tell the parent this child serves (a line shorter than PIPE_BUF is written whole)."""
        with contextlib.suppress(OSError):  # the parent is gone: this child is being stopped anyway
            os.write(self.ready_to, f"{os.getpid()}\n".encode())


def die_with_parent(parent: int) -> None:
    """In a child of `parent`: be sent SIGTERM (a drain) when the parent dies, killed or not."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the line above took effect
        os.kill(os.getpid(), signal.SIGTERM)

"""The fault suite's processes: gunicorn (production settings, sync workers) and `flask
workflows worker` processes on a fresh PostgreSQL database of the module's own, started as a
test needs them and stopped after it.

The server is bench/web.py's `start_gunicorn` (bench/ is put on the path, as the benchmarks
import each other), and a test seeds with the benchmarks' seeds (bench/load.py's `seed`: demo
data, POS terminals with device keys and funded cards, users with API tokens, requests to
decide) inside `environ_kept()`: the suite and the benchmarks run the same set-up.
"""

import os
import signal
import subprocess
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import new_pg_database

ROOT = Path(__file__).resolve().parents[2]
# Last on the path: bench/ledger.py and bench/engine.py must not hide the packages.
sys.path.append(str(ROOT / "bench"))

import web as bench_web  # noqa: E402  (bench/web.py)

#: The servers' log level: warnings and errors only, not a line per request.
QUIET = "WARNING"


@contextmanager
def environ_kept():
    """Put os.environ back as it was afterwards: the benches' seeds set the server's
    environment (production settings, the database) in the process that seeds."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def children(pid: int) -> list[int]:
    """The pids of a process's children (a gunicorn master's workers), from /proc."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as listed:
            return [int(n) for n in listed.read().split()]
    except FileNotFoundError:
        return []


class Server:
    """gunicorn on a free port with `workers` sync workers, serving the database at `url`."""

    def __init__(self, url, workers: int = 3):
        self.port = bench_web.free_port()
        with warnings.catch_warnings(), environ_kept():
            warnings.simplefilter("ignore", ResourceWarning)  # web.py's /health probe's socket
            os.environ["LOG_LEVEL"] = QUIET
            self.process = bench_web.start_gunicorn(url, self.port, workers)

    def workers(self) -> list[int]:
        """The live workers' pids (the master forks a new one for each that dies)."""
        return children(self.process.pid)

    def stop(self) -> None:
        """SIGTERM the master (it stops its workers) and wait."""
        self.process.terminate()
        self.process.wait(timeout=30)


def timer_worker(url, interval: float = 0.2) -> subprocess.Popen:
    """`flask workflows worker --interval` on the database at `url`, with the server's
    environment, as production runs it."""
    command = [str(ROOT / ".venv" / "bin" / "flask"), "--app", "app:create_app()",
               "workflows", "worker", "--interval", str(interval)]  # fmt: skip
    env = bench_web.server_environ(url) | {"DEPLOY_BPMN_ON_START": "0", "LOG_LEVEL": QUIET}
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM a process of ours (if it still runs) and reap it."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def fault_db():
    """The URL of a PostgreSQL database of the module's own, dropped afterwards."""
    with new_pg_database("cardoffice_faults") as url:
        yield url


@pytest.fixture
def server_for():
    """`server_for(url, workers=3)`: a gunicorn Server, stopped after the test."""
    servers = []

    def start(url, workers: int = 3) -> Server:
        servers.append(Server(url, workers))
        return servers[-1]

    yield start
    for server in servers:
        stop(server.process)


@pytest.fixture
def timer_workers():
    """`timer_workers.start(url)`: a timer worker process, `timer_workers.replace(n, url)`: a
    new one in place of the n-th (once it died); every one started is stopped after the test."""

    class Workers(list):
        def start(self, url, interval: float = 0.2) -> subprocess.Popen:
            self.append(timer_worker(url, interval))
            return self[-1]

        def replace(self, n: int, url, interval: float = 0.2) -> None:
            self[n] = timer_worker(url, interval)

    started = Workers()
    yield started
    for process in started:
        stop(process)

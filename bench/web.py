"""The web under load: the approver inbox page and the task decision, served by gunicorn on
PostgreSQL, driven by concurrent clients from other processes.

    .venv/bin/python bench/web.py [--clients 32] [--seconds 20] [--workers 4] [--quick]
                                  [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test]

Set-up: a database made for the run (dropped after) with the demo data, `--tasks` temporary
card requests filed by the CS department's secretary (each waiting for the department's
certification) and one approver login per client (all dept_approver of CS, so each inbox
holds every open task). gunicorn serves `app:create_app()` with the production settings.

Measured, each phase for `--seconds` by `--clients` clients (processes of 8 threads, one
keep-alive connection and one login each):
- inbox: GET /inbox (the first page, 20 tasks, with the menu's count), back to back: the
  server's capacity; with every client always waiting, latency is clients / throughput;
- inbox_paced: the same with each client thinking `--think` seconds on average between
  pages, as approvers reading their inbox do: the latency a user sees at that load;
- decide: POST /tasks/<id>/decide (certify and approve; each client its own tasks), back to
  back, until the tasks run out or the time is up.
Prints requests/s and p50/p95/p99 latency per phase; the last line is a JSON object with
`inbox_rps`, `inbox_p95_ms`, `decide_rps`, `decide_p95_ms` (the back-to-back phases) and
`inbox_paced_rps`, `inbox_paced_p95_ms`. Goal: inbox p95 under 50 ms with 32 concurrent
clients.
"""

import argparse
import http.client
import json
import multiprocessing
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import database  # noqa: E402  (bench/common.py, beside this script)
from sqlalchemy import select  # noqa: E402

THREADS_PER_PROCESS = 8
KINDS = ("inbox", "inbox_paced", "decide")
PASSWORD = "bench-password-2026"
SECRET_KEY = "bench-secret-" + uuid.uuid4().hex
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def resident_id(n: int) -> str:
    """A valid 18-character resident ID number, different for each n."""
    body = f"110108{1980 + n // 1000 % 20}0101{n % 1000:03d}"
    total = sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True))
    return body + "10X98765432"[total % 11]


# -- set-up ---------------------------------------------------------------------------------


def server_environ(url) -> dict:
    """The environment gunicorn's app reads: production settings on the bench database."""
    return os.environ | {
        "APP_CONFIG": "production",
        "DATABASE_URL": url.render_as_string(hide_password=False),
        "SECRET_KEY": SECRET_KEY,
        "LOG_LEVEL": "WARNING",  # no access line per request on the bench's terminal
    }


def seed(url, clients: int, tasks: int) -> None:
    """Schema, demo data, one approver login per client, `tasks` requests waiting for them."""
    from app import create_app
    from app.auth.accounts import create_user, find_user
    from app.demo import load_demo
    from app.extensions import db
    from app.uow import unit_of_work
    from ledger.base import Base

    os.environ.update(server_environ(url))
    app = create_app({"DEPLOY_BPMN_ON_START": False})
    with app.app_context():
        Base.metadata.create_all(db.engine)
        with unit_of_work():
            load_demo(db.session, datetime.now(UTC))
            for i in range(clients):
                create_user(db.session, f"bench{i:02d}", PASSWORD, f"审批人{i:02d}",
                            [("dept_approver", "CS")])  # fmt: skip
        _file_requests(app, find_user, tasks)
        db.engine.dispose()


def _file_requests(app, find_user, tasks: int) -> None:
    from app.engine import deploy_bpmn, engine_config
    from app.extensions import db
    from app.uow import unit_of_work
    from ledger.models.people import Department
    from workflows.context import Env
    from workflows.instances import start_instance

    deploy_bpmn(app)
    today = datetime.now(UTC).date()
    for start in range(0, tasks, 200):
        with unit_of_work():
            applicant = find_user(db.session, "applicant")
            cs = db.session.scalar(select(Department.id).where(Department.code == "CS"))
            env = Env(db.session, applicant, datetime.now(UTC), engine_config(app))
            for n in range(start, min(start + 200, tasks)):
                person = {
                    "name": f"访客{n:05d}", "id_type": "resident_id", "id_number": resident_id(n),
                    "phone": "13900001111", "post": "项目助理", "work_from": today.isoformat(),
                    "work_until": (today + timedelta(days=90)).isoformat(),
                }  # fmt: skip
                data = {"people": [person], "reason": "科研项目临时聘用"}
                start_instance(env, "temporary_card", f"BENCH-{n:06d}", data, cs)


def decided(task_ids: list[int]) -> int:
    """How many of `task_ids` are completed (run inside the seeded app's context)."""
    from sqlalchemy import func

    from app.extensions import db
    from workflows.models import HumanTask, TaskState

    query = select(func.count()).where(
        HumanTask.id.in_(task_ids), HumanTask.state == TaskState.COMPLETED
    )
    return db.session.scalar(query)


def open_task_ids() -> list[int]:
    """The open certification tasks, oldest first (run inside the seeded app's context)."""
    from app.extensions import db
    from workflows.models import HumanTask, TaskState

    query = select(HumanTask.id).where(
        HumanTask.state == TaskState.OPEN, HumanTask.business_key.like("BENCH-%")
    )
    return list(db.session.scalars(query.order_by(HumanTask.id)))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(url, port: int, workers: int) -> subprocess.Popen:
    """gunicorn on `port`, waiting until /health answers."""
    command = [
        str(ROOT / ".venv" / "bin" / "gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{port}",
        "--log-level", "warning", "app:create_app()",
    ]  # fmt: skip
    env = server_environ(url) | {"DEPLOY_BPMN_ON_START": "0"}
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    for _ in range(100):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        try:
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.2)
        finally:
            connection.close()
    server.terminate()
    raise RuntimeError("gunicorn did not start")


# -- clients --------------------------------------------------------------------------------


class Client:
    """One browser-like client: a keep-alive connection, its session cookie, a CSRF token."""

    def __init__(self, port: int, username: str):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookie = ""
        login_page = self.call("GET", "/login")[1]
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page)
        form = {"username": username, "password": PASSWORD, "csrf_token": token.group(1)}
        status, _ = self.call("POST", "/login", form)
        if status != 302:
            raise RuntimeError(f"{username} could not log in ({status})")
        page = self.call("GET", "/inbox")[1]
        self.csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    def call(self, method: str, path: str, form: dict | None = None) -> tuple[int, str]:
        """One request; the reply's status and text."""
        headers = {"Cookie": self.cookie} if self.cookie else {}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        text_ = response.read().decode()
        if cookie := response.getheader("Set-Cookie"):
            self.cookie = cookie.split(";", 1)[0]
        return response.status, text_


def _timed(call) -> tuple[float, float]:
    """(when it ended, how long it took in ms)."""
    began = time.perf_counter()
    status = call()
    if status not in (200, 302):
        raise RuntimeError(f"unexpected status {status}")
    return time.time(), (time.perf_counter() - began) * 1000


def _wait_until(moment: float) -> None:
    while time.time() < moment:
        time.sleep(0.005)


def _client_thread(port, username, task_ids, phases, out) -> None:
    """Log in, then the three phases at their start times: inbox back to back, inbox paced
    by a think time, decisions back to back."""
    seconds, think, starts = phases
    client = Client(port, username)
    inbox = lambda: client.call("GET", "/inbox")[0]  # noqa: E731
    _wait_until(starts[0])
    while time.time() < starts[0] + seconds:
        out["inbox"].append(_timed(inbox))
    _wait_until(starts[1] + random.uniform(0, think))
    while time.time() < starts[1] + seconds:
        out["inbox_paced"].append(_timed(inbox))
        time.sleep(random.uniform(0.5, 1.5) * think)
    _wait_until(starts[2])
    form = {"csrf_token": client.csrf, "certified": "true", "decision": "approve", "comment": ""}
    for task_id in task_ids:
        if time.time() > starts[2] + seconds:
            break
        path = f"/tasks/{task_id}/decide"
        out["decide"].append(_timed(lambda p=path: client.call("POST", p, form)[0]))


def _client_process(port, users, task_lists, phases, queue) -> None:
    results = [{kind: [] for kind in KINDS} for _ in users]
    threads = [
        threading.Thread(target=_client_thread, args=(port, u, t, phases, r))
        for u, t, r in zip(users, task_lists, results, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.put(results)


def drive(port: int, clients: int, task_ids: list[int], seconds: float, think: float) -> dict:
    """Run the clients; {kind: [(ended at, latency ms)]}."""
    users = [f"bench{i:02d}" for i in range(clients)]
    tasks = [task_ids[i::clients] for i in range(clients)]
    first = time.time() + 3 + clients * 0.15  # after every login
    phases = (seconds, think, [first + i * (seconds + 1) for i in range(3)])
    queue = multiprocessing.Queue()
    processes = []
    for first in range(0, clients, THREADS_PER_PROCESS):
        chunk = slice(first, first + THREADS_PER_PROCESS)
        args = (port, users[chunk], tasks[chunk], phases, queue)
        processes.append(multiprocessing.Process(target=_client_process, args=args))
    for process in processes:
        process.start()
    merged = {kind: [] for kind in KINDS}
    for _ in processes:
        for result in queue.get():
            for kind, values in result.items():
                merged[kind] += values
    for process in processes:
        process.join()
    return merged


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if values else 0.0


def summary(kind: str, timed: list[tuple[float, float]]) -> dict:
    """Requests/s over the phase's wall time, and latency percentiles."""
    latencies = [ms for _, ms in timed]
    seconds = max(t for t, _ in timed) - min(t - ms / 1000 for t, ms in timed)
    figures = {
        f"{kind}_rps": len(latencies) / seconds,
        f"{kind}_p50_ms": percentile(latencies, 50),
        f"{kind}_p95_ms": percentile(latencies, 95),
        f"{kind}_p99_ms": percentile(latencies, 99),
    }
    print(
        f"{kind:<11} {len(latencies):>7} requests  {figures[f'{kind}_rps']:>8.1f} req/s  "
        f"p50 {figures[f'{kind}_p50_ms']:6.1f} ms  p95 {figures[f'{kind}_p95_ms']:6.1f} ms  "
        f"p99 {figures[f'{kind}_p99_ms']:6.1f} ms"
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--tasks", type=int, default=3000)
    parser.add_argument("--think", type=float, default=1.0, help="paced phase: mean seconds")
    parser.add_argument("--quick", action="store_true", help="short runs, a smoke check")
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    opts = parser.parse_args()
    if opts.quick:
        opts.seconds, opts.tasks = 3.0, 400
    name = f"cardoffice_bench_web_{uuid.uuid4().hex[:6]}"
    url = database(opts.pg, name)
    server = None
    try:
        seed(url, opts.clients, opts.tasks)
        from app import create_app

        app = create_app({"DEPLOY_BPMN_ON_START": False})
        with app.app_context():
            task_ids = open_task_ids()
        server = start_gunicorn(url, free_port(), opts.workers)
        port = int(server.args[server.args.index("-b") + 1].rsplit(":", 1)[1])
        latencies = drive(port, opts.clients, task_ids, opts.seconds, opts.think)
        with app.app_context():
            done = decided(task_ids)
        if done != len(latencies["decide"]):
            raise RuntimeError(f"{len(latencies['decide'])} decisions sent, {done} taken")
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        database(opts.pg, name, create=False)
    print(f"{opts.clients} clients, gunicorn -w {opts.workers}, {opts.tasks} open tasks")
    figures = {}
    for kind in KINDS:
        figures |= summary(kind, latencies[kind])
    print(f"inbox_paced: each client thinks {opts.think} s on average between pages")
    print("goal: inbox p95 < 50 ms at 32 clients")
    keys = ("inbox_rps", "inbox_p95_ms", "decide_rps", "decide_p95_ms", "inbox_paced_rps",
            "inbox_paced_p95_ms")  # fmt: skip
    print(json.dumps({key: round(figures[key], 1) for key in keys}))


if __name__ == "__main__":
    main()

"""A mixed load for `--minutes`: approvers browsing their inbox and deciding, the card office's
counter operations, bank top-ups and POS purchases, all at once against gunicorn on
PostgreSQL with a timer worker running; then the invariants the fault suite checks.

    .venv/bin/python bench/load.py [--minutes 10] [--clients 16] [--workers 4] [--tasks N]
                                   [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test]

Set-up: a database made for the run (dropped after) with the demo data; bench/api.py's POS
terminals, one per client, each with a device key and 16 funded cards (the last kept for the
counter); one CS approver login per client with `--tasks` temporary card requests (1500 a
minute by default) waiting for their certification (bench/web.py's); a card-office clerk and
a settlement officer with API tokens. gunicorn serves the production settings with
`--workers` sync workers (LOG_LEVEL=WARNING unless set: no log line per request), and one
`flask workflows worker --interval 1` fires timers.

Each client (processes of 8 threads) logs in, then until the time is up picks its next call
at random, back to back, so the machine stays busy (KINDS, with their weights):
- inbox: GET /inbox, the approver's first page;
- decide: POST /tasks/<id>/decide, the web form (CSRF) certifying one of the client's own
  requests (skipped once they run out);
- counter: the clerk reports the client's counter card lost, or unfreezes it (API, R13);
- topup: a bank top-up notice of 20 yuan onto one of the client's cards, with an
  Idempotency-Key (API, R09);
- purchase: a POS purchase of 1 to 5 yuan with an Idempotency-Key (API, R07).

Prints per kind: calls, calls/s, p50 and p95 latency, errors; how the machine's CPU was shared;
then the invariants after a last timer pass (tests/faults/invariants.py: no instance stuck
between states or out of step with its workflow, no task decided twice, no timer lost or fired
twice, audit chains whole, the ledger check, every key moved money once). The last line is a
JSON object: `minutes`, `clients`, `<kind>_per_s`, `<kind>_p95_ms`, `errors`, `invariants_ok`.
Exits 1 if an invariant fails.
"""

import argparse
import http.client
import json
import multiprocessing
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api import CPU_PARTS, PATH, Purchases, cpu_sample, cpu_shares  # noqa: E402
from api import seed as seed_tills  # noqa: E402
from common import database  # noqa: E402  (bench/common.py, beside this script)
from sqlalchemy.orm import Session  # noqa: E402
from web import (  # noqa: E402
    PASSWORD,
    Client,
    _file_requests,
    free_port,
    open_task_ids,
    percentile,
    server_environ,
    start_gunicorn,
)

from ledger.models.journal import EntryKind  # noqa: E402

THREADS_PER_PROCESS = 8
#: Each call's kind, and how often it is picked.
KINDS = {"inbox": 35, "decide": 10, "counter": 10, "topup": 10, "purchase": 35}
#: What each kind's reply is when it went well.
EXPECTED = {"inbox": (200,), "decide": (302,), "counter": (200,), "topup": (201,),
            "purchase": (201,)}  # fmt: skip
TOP_UP = 2000  # fen, each bank top-up


# -- set-up ---------------------------------------------------------------------------------


def seed(url, terminals: int, people: list[tuple], requests: int) -> tuple[list, dict]:
    """bench/api.py's terminals and cards; `people` as (username, role, department code)
    with bench/web.py's password and an API token each; `requests` temporary card requests
    of CS waiting for certification (bench/web.py's). (tills, {username: token})."""
    from app import create_app
    from app.auth.accounts import create_user, find_user
    from app.extensions import db
    from app.uow import unit_of_work
    from workflows.apitokens import issue_token

    tills = seed_tills(url, terminals)  # sets the server's environment in this process
    app = create_app({"DEPLOY_BPMN_ON_START": False})
    with app.app_context():
        with unit_of_work():
            tokens = {}
            for name, role, dept in people:
                user = create_user(db.session, name, PASSWORD, name, [(role, dept)])
                tokens[name] = issue_token(db.session, user, "load", datetime.now(UTC))[1]
        _file_requests(app, find_user, requests)
        db.engine.dispose()
    return tills, tokens


def timer_worker(url, interval: float = 1.0) -> subprocess.Popen:
    """`flask workflows worker` on the bench database, as production runs it."""
    command = [str(ROOT / ".venv" / "bin" / "flask"), "--app", "app:create_app()",
               "workflows", "worker", "--interval", str(interval)]  # fmt: skip
    env = server_environ(url) | {"DEPLOY_BPMN_ON_START": "0"}
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)


# -- a client -------------------------------------------------------------------------------


class Mixed:
    """One client: an approver's browser, a clerk's and a settlement officer's API tokens, a
    POS terminal and its cards; `sent` keeps every money-moving key it sent."""

    def __init__(self, port: int, plan: dict):
        self.rng = random.Random(plan["username"])
        self.browser = Client(port, plan["username"])
        self.tasks = list(plan["tasks"])
        code, place, key, cards = plan["till"]
        self.cards, self.counter_card, self.lost = cards[:-1], cards[-1], False
        self.till = Purchases((code, place, key, self.cards))
        self.clerk = {"Authorization": f"Bearer {plan['clerk']}"}
        self.settler = {"Authorization": f"Bearer {plan['settler']}",
                        "Content-Type": "application/json"}  # fmt: skip
        self.settler_id = plan["settler_id"]
        self.api = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.sent = {"purchase": {}, "topup": {}}  # ledger key: (amount, answered 201)

    def pick(self) -> str:
        """The next call's kind, at random by KINDS' weights (no decision once none is left)."""
        kinds = [k for k in KINDS if k != "decide" or self.tasks]
        return self.rng.choices(kinds, [KINDS[k] for k in kinds])[0]

    def inbox(self) -> tuple[int, str]:
        return self.browser.call("GET", "/inbox")

    def decide(self) -> tuple[int, str]:
        form = {"csrf_token": self.browser.csrf, "certified": "true", "decision": "approve",
                "comment": ""}  # fmt: skip
        return self.browser.call("POST", f"/tasks/{self.tasks.pop()}/decide", form)

    def counter(self) -> tuple[int, str]:
        action = "unfreeze" if self.lost else "loss"
        reply = self.post(f"/api/v1/cards/{self.counter_card}/{action}", None, self.clerk)
        self.lost ^= reply[0] == 200
        return reply

    def topup(self) -> tuple[int, str]:
        card, key = self.rng.choice(self.cards), uuid.uuid4().hex
        body = {"card_no": card, "amount": TOP_UP, "method": "bank", "reference": key[:20]}
        return self.keyed("topup", "/api/v1/top-ups", body, self.settler, key)

    def purchase(self) -> tuple[int, str]:
        body, key = self.till.next(), uuid.uuid4().hex
        headers = self.till.headers | {"Idempotency-Key": key}
        return self.keyed("purchase", PATH, body, headers, key)

    def keyed(self, kind: str, path: str, body: dict, headers: dict, key: str):
        """A money-moving call under a new Idempotency-Key, noted in `sent` under its ledger
        key (the caller's id and the key, as app.api.idempotency makes it)."""
        caller = self.till.actor if kind == "purchase" else self.settler_id
        status, text = self.post(path, json.dumps(body), headers | {"Idempotency-Key": key})
        self.sent[kind][f"{caller}:{key}"] = (body["amount"], status == 201)
        return status, text

    def post(self, path: str, body: str | None, headers: dict) -> tuple[int, str]:
        self.api.request("POST", path, body, headers)
        response = self.api.getresponse()
        return response.status, response.read().decode(errors="replace")


def _client_thread(port: int, plan: dict, start: float, end: float, out: dict) -> None:
    """Log in, wait for the start, then calls back to back until the end: per kind
    [(when it ended, ms)] and the replies that were not what the kind expects."""
    client = Mixed(port, plan)
    time.sleep(max(0.0, start - time.time()))
    while time.time() < end:
        kind = client.pick()
        began = time.perf_counter()
        try:
            status, text = getattr(client, kind)()
        except (OSError, http.client.HTTPException) as exc:
            status, text = None, repr(exc)
        out[kind].append((time.time(), (time.perf_counter() - began) * 1000))
        if status not in EXPECTED[kind]:
            out["errors"].append((kind, f"{status} {text[:200]}"))
    for kind, sent in client.sent.items():
        out["sent"][kind] |= sent


def _client_process(port: int, plans: list[dict], window: tuple, queue) -> None:
    out = {kind: [] for kind in KINDS} | {"errors": [], "sent": {"purchase": {}, "topup": {}}}
    began = time.process_time()
    threads = [threading.Thread(target=_client_thread, args=(port, plan, *window, out))
               for plan in plans]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.put(out | {"cpu": time.process_time() - began})


def drive(port: int, server_pid: int, plans: list[dict], seconds: float) -> dict:
    """Run the clients for `seconds` (after every login); their results merged, with the
    CPU shares over the window."""
    start = time.time() + 5 + 0.3 * len(plans)
    queue, processes = multiprocessing.Queue(), []
    for first in range(0, len(plans), THREADS_PER_PROCESS):
        chunk = plans[first : first + THREADS_PER_PROCESS]
        args = (port, chunk, (start, start + seconds), queue)
        processes.append(multiprocessing.Process(target=_client_process, args=args))
    for process in processes:
        process.start()
    time.sleep(max(0.0, start - time.time()))
    before = cpu_sample(server_pid)
    time.sleep(max(0.0, start + seconds - time.time()))
    after = cpu_sample(server_pid)
    results = [queue.get() for _ in processes]
    for process in processes:
        process.join()
    merged = {kind: [t for r in results for t in r[kind]] for kind in KINDS}
    merged["errors"] = [e for r in results for e in r["errors"]]
    merged["sent"] = {k: {key: v for r in results for key, v in r["sent"][k].items()}
                      for k in ("purchase", "topup")}  # fmt: skip
    # The clients' CPU counts their log-ins too: a little more than the window's.
    merged["cpu"] = cpu_shares(before, after, sum(r["cpu"] for r in results))
    return merged


# -- afterwards -----------------------------------------------------------------------------


def invariants(url, sent: dict, baselines: dict) -> list[str]:
    """A last timer pass, then every invariant the fault suite checks; what broke."""
    from app import create_app
    from app.extensions import db
    from tests.faults.invariants import all_problems, last_timer_pass

    app = create_app({"DEPLOY_BPMN_ON_START": False})
    with app.app_context():
        engine = db.engine
        last_timer_pass(lambda: Session(engine), app)
        kinds = {EntryKind.PURCHASE: sent["purchase"], EntryKind.TOPUP_BANK: sent["topup"]}
        problems = all_problems(db.session, kinds, baselines)
        db.session.rollback()
        engine.dispose()
    return problems


def baselines(url) -> dict:
    """The last purchase and bank top-up entries before the run."""
    from app import create_app
    from app.extensions import db
    from tests.faults.invariants import entries_so_far

    app = create_app({"DEPLOY_BPMN_ON_START": False})
    with app.app_context():
        found = {k: entries_so_far(db.session, k) for k in (EntryKind.PURCHASE,
                                                           EntryKind.TOPUP_BANK)}  # fmt: skip
        db.session.rollback()
        db.engine.dispose()
    return found


def report(opts, merged: dict, seconds: float, problems: list[str]) -> dict:
    """Print the table, the CPU shares and the invariants; the figures of the last line."""
    print(f"{opts.clients} clients back to back for {opts.minutes:g} min, gunicorn -w "
          f"{opts.workers} (sync), one timer worker, {os.cpu_count()} cores shared by "
          "server, PostgreSQL and clients")  # fmt: skip
    print(f"{'kind':<10}{'calls':>8}{'per s':>8}{'p50 ms':>9}{'p95 ms':>9}{'errors':>8}")
    figures = {"minutes": opts.minutes, "clients": opts.clients}
    for kind in KINDS:
        latencies = [ms for _, ms in merged[kind]]
        errors = sum(1 for k, _ in merged["errors"] if k == kind)
        per_s, p50, p95 = len(latencies) / seconds, percentile(latencies, 50), percentile(
            latencies, 95)  # fmt: skip
        print(f"{kind:<10}{len(latencies):>8}{per_s:>8.1f}{p50:>9.1f}{p95:>9.1f}{errors:>8}")
        figures |= {f"{kind}_per_s": round(per_s, 1), f"{kind}_p95_ms": round(p95, 1)}
    if len(merged["decide"]) >= opts.tasks_filed:
        print(f"decide: all {opts.tasks_filed} requests were decided before the end (--tasks)")
    print("CPU: " + ", ".join(f"{part} {100 * merged['cpu'][part]:.0f}%" for part in CPU_PARTS)
          + " (postgres: every PostgreSQL process on the machine)")  # fmt: skip
    for kind, error in merged["errors"][:5]:
        print(f"error ({kind}): {error}")
    print(f"invariants: {'all hold' if not problems else f'{len(problems)} broken'}")
    for problem in problems[:20]:
        print(f"  {problem}")
    return figures | {"errors": len(merged["errors"]), "invariants_ok": not problems}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--tasks", type=int, default=None,
                        help="requests to decide (default: 1500 a minute)")  # fmt: skip
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    opts = parser.parse_args()
    # The server's log: warnings and errors, not a JSON line per request on this terminal.
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    tasks = opts.tasks_filed = opts.tasks if opts.tasks is not None else int(1500 * opts.minutes)
    name = f"cardoffice_bench_load_{uuid.uuid4().hex[:6]}"
    url = database(opts.pg, name)
    server = worker = None
    try:
        users = [(f"bench{n:02d}", "dept_approver", "CS") for n in range(opts.clients)]
        users += [("clerk", "card_office", None), ("settler", "settlement", None)]
        began = time.perf_counter()
        tills, tokens = seed(url, opts.clients, users, tasks)
        print(f"set-up: {tasks} requests filed, {opts.clients} terminals, "
              f"{time.perf_counter() - began:.0f} s")  # fmt: skip
        plans = plan(url, tills, tokens)
        before = baselines(url)
        server = start_gunicorn(url, free_port(), opts.workers)
        worker = timer_worker(url)
        port = int(server.args[server.args.index("-b") + 1].rsplit(":", 1)[1])
        merged = drive(port, server.pid, plans, opts.minutes * 60)
    finally:
        for process in (worker, server):
            if process is not None:
                process.terminate()
                process.wait()
    try:
        problems = invariants(url, merged["sent"], before)
    finally:
        database(opts.pg, name, create=False)
    figures = report(opts, merged, opts.minutes * 60, problems)
    print(json.dumps(figures))
    if problems:
        raise SystemExit(1)


def plan(url, tills: list, tokens: dict) -> list[dict]:
    """Each client's login, requests to decide, terminal and tokens."""
    from app import create_app
    from app.auth.accounts import find_user
    from app.extensions import db

    app = create_app({"DEPLOY_BPMN_ON_START": False})
    with app.app_context():
        task_ids = open_task_ids()
        settler_id = f"user:{find_user(db.session, 'settler').id}"
        db.session.rollback()
        db.engine.dispose()
    clients = len(tills)
    return [
        {"username": f"bench{n:02d}", "tasks": task_ids[n::clients], "till": tills[n],
         "clerk": tokens["clerk"], "settler": tokens["settler"], "settler_id": settler_id}
        for n in range(clients)
    ]  # fmt: skip


if __name__ == "__main__":
    main()

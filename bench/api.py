"""Purchases through the JSON API (POST /api/v1/terminal/purchases) served by gunicorn on
PostgreSQL with 16 POS terminals at once, against the same purchases made in-process.

    .venv/bin/python bench/api.py [--terminals 16] [--seconds 10] [--think 0.5] [--quick]
                                  [--profile] [--pg postgresql+psycopg://postgres@127.0.0.1/test]

Set-up: a database of its own (dropped after) with the demo data; the demo's canteen and shop
POS terminals (more registered at the first canteen if too few), each with a device key and 16
cards of its own (1,000 yuan, a daily limit of 600 yuan, R07's largest): no two terminals
queue on one card's lock and no purchase needs the consumption password.

For each gunicorn setting of SETTINGS (a fresh server each), every terminal a process with one
connection and a new Idempotency-Key per purchase: `burst`, back to back (the capacity; with
every terminal always waiting, latency is about terminals / throughput), and `paced`, one
purchase every `--think` seconds on average per terminal (the latency a till sees at that
load); with each, how the machine's CPU was shared. Then the same purchases through
`ledger.ops.money.purchase` in this process (one commit each), and SQL statements and CPU per
purchase through the API (Flask's test client; `--profile`: where its time goes) and by the
ledger alone. Last, the purchase journal entries must number the 201 replies plus the
in-process purchases, and the ledger check must find nothing.

The last line is a JSON object: `api_purchases_per_s`, `api_p50_ms`, `api_p95_ms`, `api_p99_ms`
(burst, fastest setting), `api_paced_p95_ms`, `inprocess_per_s`, `ratio` (api / in-process)
and `setting`. Goal: p95 under 30 ms at 16 terminals.
"""

import argparse
import cProfile
import http.client
import itertools
import json
import multiprocessing
import os
import pstats
import random
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import database  # noqa: E402  (bench/common.py, beside this script)
from sqlalchemy import create_engine, event, func, select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402
from web import free_port, percentile, resident_id, server_environ, start_gunicorn  # noqa: E402

from ledger.config import LedgerConfig  # noqa: E402

PATH = "/api/v1/terminal/purchases"
#: The gunicorn settings tried: label, worker class, workers, threads per worker.
SETTINGS = (
    ("sync -w 2", "sync", 2, 1),
    ("sync -w 3", "sync", 3, 1),
    ("sync -w 4", "sync", 4, 1),
    ("gthread -w 2 --threads 4", "gthread", 2, 4),
)
PHASES = ("burst", "paced")
CPU_PARTS = ("gunicorn", "clients", "postgres", "rest", "idle")
CARDS_EACH = 16
#: The bench's cards: cheap password hashes (set-up only) and R07's largest daily limit.
SEED_CONFIG = LedgerConfig(password_cost=2**4, daily_limit=60_000)
WARM_UP = 5  # purchases per terminal before measuring: each worker's first requests are slow


# -- set-up ---------------------------------------------------------------------------------


def seed(url, terminals: int) -> list[tuple]:
    """Schema, demo data, the terminals with their keys and cards: [(code, place, key, cards)]."""
    from app import create_app
    from app.demo import load_demo
    from app.extensions import db
    from app.uow import unit_of_work
    from ledger.base import Base
    from ledger.context import Ctx

    os.environ.update(server_environ(url))
    app = create_app({"DEPLOY_BPMN_ON_START": False})
    with app.app_context():
        Base.metadata.create_all(db.engine)
        with unit_of_work():
            load_demo(db.session, datetime.now(UTC))
            ctx = Ctx(session=db.session, actor="bench", now=datetime.now(UTC), config=SEED_CONFIG)
            tills = _terminals(ctx, terminals)
            cards = _cards(ctx, len(tills) * CARDS_EACH)
        db.engine.dispose()
    return [(*till, cards[n :: len(tills)]) for n, till in enumerate(tills)]


def _terminals(ctx, count: int) -> list[tuple[str, str, str]]:
    """The demo's canteen and shop POS terminals, more at the first canteen if they are too
    few, each with a new device key: [(code, place, key)]."""
    from ledger.devicekeys import issue_device_key
    from ledger.models.merchants import Merchant, MerchantCategory, Terminal, TerminalKind
    from ledger.ops.merchants import find_merchant, register_terminal

    query = (
        select(Terminal.code, Terminal.location)
        .join(Merchant, Terminal.merchant_id == Merchant.id)
        .where(Terminal.kind == TerminalKind.POS)
        .where(Merchant.category.in_((MerchantCategory.CANTEEN, MerchantCategory.SHOP)))
    )
    tills = [tuple(row) for row in ctx.session.execute(query.order_by(Terminal.id))][:count]
    place = find_merchant(ctx, "CANTEEN1").location
    for n in range(len(tills) + 1, count + 1):
        register_terminal(ctx, "CANTEEN1", f"CANTEEN1-B{n:02d}", TerminalKind.POS, place)
        tills.append((f"CANTEEN1-B{n:02d}", place))
    return [(code, where, issue_device_key(ctx, terminal_code=code)[1]) for code, where in tills]


def _cards(ctx, count: int) -> list[str]:
    """`count` undergraduates' cards with 1,000 yuan each, topped up from a bound bank card."""
    from app.demo import demo_bank_card
    from ledger.models.people import Department, Person, PersonCategory
    from ledger.ops.cards import issue_card
    from ledger.ops.money import TopUpMethod, top_up
    from ledger.ops.services import bind_bank_card
    from ledger.passwords import initial_password

    cs = ctx.session.scalar(select(Department.id).where(Department.code == "CS"))
    people = [
        Person(name=f"顾客{n:04d}", id_type="resident_id", id_number=resident_id(n),
               category=PersonCategory.UNDERGRADUATE, department_id=cs)
        for n in range(1000, 1000 + count)
    ]  # fmt: skip
    ctx.session.add_all(people)
    ctx.session.flush()
    cards = []
    for person in people:
        card_no = issue_card(ctx, person.id)["card_no"]
        password = initial_password(person.id_number)
        bind_bank_card(ctx, card_no, demo_bank_card(person.id + 1000), query_password=password)
        top_up(ctx, card_no, 100_000, TopUpMethod.BANK)
        cards.append(card_no)
    return cards


def audit(url) -> tuple[int, list[dict]]:
    """The purchase entries in the journal, and what `ledger.check.check_ledger` finds."""
    from ledger.check import check_ledger
    from ledger.models.journal import EntryKind, JournalEntry

    engine = create_engine(url)
    with Session(engine) as session:
        query = select(func.count()).where(JournalEntry.kind == EntryKind.PURCHASE)
        found = session.scalar(query), check_ledger(session)
    engine.dispose()
    return found


# -- the terminals --------------------------------------------------------------------------


class Purchases:
    """A terminal's purchases in turn, its cards one after the other, 1 to 5 yuan each; with a
    `port`, made through the API over one connection."""

    def __init__(self, till: tuple, port: int | None = None):
        self.code, self.place, key, cards = till
        self.actor = f"terminal:{self.code}"  # as the API's device acts (ledger.devicekeys)
        self.cards, self.rng = itertools.cycle(cards), random.Random(self.code)
        self.connection = port and http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        self.errors = []

    def next(self) -> dict:
        """The next purchase's body."""
        return {"card_no": next(self.cards), "amount": self.rng.randint(100, 500),
                "location": self.place}  # fmt: skip

    def buy(self) -> tuple[float, float]:
        """The next purchase through the API; (when it ended, how long it took in ms). A
        reply other than 201 is kept in `errors`."""
        body, key = json.dumps(self.next()), uuid.uuid4().hex
        began = time.perf_counter()
        self.connection.request("POST", PATH, body, self.headers | {"Idempotency-Key": key})
        response = self.connection.getresponse()
        reply = response.read()
        took = (time.perf_counter() - began) * 1000
        if response.status != 201:
            self.errors.append(f"{response.status} {reply[:300].decode(errors='replace')}")
        return time.time(), took


def _wait_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.time()))


def _terminal_process(port: int, till: tuple, seconds, think, sync, queue) -> None:
    """Warm up, wait for the others, then the burst and the paced phase."""
    barrier, go = sync
    terminal = Purchases(till, port)
    for _ in range(WARM_UP):
        terminal.buy()
    barrier.wait()  # every terminal warm; the parent sets the start
    barrier.wait()
    starts = (go.value, go.value + seconds + 1)
    out = {"warm_up": WARM_UP, "cpu": {}} | {phase: [] for phase in PHASES}
    for phase, start in zip(PHASES, starts, strict=True):
        _wait_until(start + (random.uniform(0, think) if phase == "paced" else 0))
        began = time.process_time()
        while time.time() < start + seconds:
            out[phase].append(terminal.buy())
            if phase == "paced":
                time.sleep(random.uniform(0.5, 1.5) * think)
        out["cpu"][phase] = time.process_time() - began
    queue.put(out | {"errors": terminal.errors})


# -- where the CPU goes ---------------------------------------------------------------------


def _process_ticks(pid: str) -> tuple[str, int, int]:
    """(command, parent pid, user + system clock ticks) of a process, from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        command, rest = stat.read().split(" (", 1)[1].rsplit(") ", 1)
    fields = rest.split()
    return command, int(fields[1]), int(fields[11]) + int(fields[12])


def cpu_sample(server_pid: int) -> tuple[int, ...]:
    """Clock ticks so far: the machine's busy and idle, gunicorn's (master and workers) and
    PostgreSQL's (every process of the server)."""
    with open("/proc/stat") as stat:
        ticks = [int(n) for n in stat.readline().split()[1:8]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    server = database = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            command, parent, used = _process_ticks(pid)
        except OSError:  # ended meanwhile
            continue
        server += used if server_pid in (int(pid), parent) else 0
        database += used if command == "postgres" else 0
    return sum(ticks) - idle, idle, server, database


def cpu_shares(before, after, client_seconds: float) -> dict:
    """A phase's CPU as shares of the machine's: gunicorn, the clients, PostgreSQL, the rest
    (other processes, the kernel), idle."""
    busy, idle, server, database = (b - a for a, b in zip(before, after, strict=True))
    total, clients = busy + idle, client_seconds * os.sysconf("SC_CLK_TCK")
    rest = busy - server - clients - database
    parts = (server, clients, database, rest, idle)
    return {part: ticks / total for part, ticks in zip(CPU_PARTS, parts, strict=True)}


# -- a run ----------------------------------------------------------------------------------


def drive(url, setting: tuple, tills: list[tuple], seconds: float, think: float) -> dict:
    """One gunicorn setting: a fresh server, the two phases; the results per phase."""
    _label, worker_class, workers, threads = setting
    # web.start_gunicorn passes the environment on; gunicorn reads more options from it.
    os.environ["GUNICORN_CMD_ARGS"] = f"--worker-class {worker_class} --threads {threads}"
    server = start_gunicorn(url, free_port(), workers)
    del os.environ["GUNICORN_CMD_ARGS"]
    try:
        port = int(server.args[server.args.index("-b") + 1].rsplit(":", 1)[1])
        fork = multiprocessing.get_context("fork")
        sync, queue = (fork.Barrier(len(tills) + 1, timeout=300), fork.Value("d")), fork.Queue()
        processes = [
            fork.Process(target=_terminal_process, args=(port, till, seconds, think, sync, queue))
            for till in tills
        ]
        for process in processes:
            process.start()
        sync[0].wait()
        sync[1].value = first = time.time() + 0.5
        sync[0].wait()
        samples = []
        for moment in (first, first + seconds, first + seconds + 1, first + 2 * seconds + 1):
            _wait_until(moment)
            samples.append(cpu_sample(server.pid))
        results = [queue.get() for _ in processes]
        for process in processes:
            process.join()
    finally:
        server.terminate()
        server.wait()
    return merged(results, samples)


def merged(results: list[dict], samples: list) -> dict:
    """The terminals' results together, with each phase's CPU shares."""
    out = {"errors": [e for r in results for e in r["errors"]],
           "warm_up": sum(r["warm_up"] for r in results)}  # fmt: skip
    for n, phase in enumerate(PHASES):
        client_seconds = sum(r["cpu"][phase] for r in results)
        out[phase] = [timed for r in results for timed in r[phase]]
        out[f"{phase}_cpu"] = cpu_shares(samples[2 * n], samples[2 * n + 1], client_seconds)
        out[f"{phase}_client_ms"] = 1000 * client_seconds / max(1, len(out[phase]))
    return out


def counted(engine) -> list[int]:
    """A counter of the SQL statements `engine` runs from now on (not the pool's pre-ping,
    BEGIN or COMMIT): [count]."""
    count = [0]

    @event.listens_for(engine, "before_cursor_execute")
    def _count(*_args) -> None:
        count[0] += 1

    return count


def in_process(url, tills: list[tuple], seconds: float) -> tuple[list, dict]:
    """The same purchases through the ledger, one process, one commit each, for `seconds`:
    [(when it ended, how long it took in ms)], and SQL statements and CPU ms per purchase."""
    from ledger.context import Ctx
    from ledger.ops.money import purchase

    engine = create_engine(url)
    statements, session = counted(engine), Session(engine)
    timed, deadline, cpu = [], time.time() + seconds, time.process_time()
    for terminal in itertools.cycle([Purchases(till) for till in tills]):
        if time.time() > deadline:
            break
        body, key = terminal.next(), f"{terminal.actor}:{uuid.uuid4().hex}"
        began = time.perf_counter()
        with session.begin():
            ctx = Ctx(session=session, actor=terminal.actor, now=datetime.now(UTC))
            purchase(ctx, body["card_no"], terminal.code, body["amount"], idempotency_key=key)
        timed.append((time.time(), (time.perf_counter() - began) * 1000))
    cpu_ms = (time.process_time() - cpu) * 1000 / len(timed)
    session.close()
    engine.dispose()
    return timed, {"sql": statements[0] / len(timed), "cpu_ms": cpu_ms}


def inspect_api(tills: list[tuple], profile: bool) -> dict:
    """200 API purchases in this process through Flask's test client: SQL statements and CPU
    ms per purchase, and how many were made. With `profile`, prints where 300 more spend
    their time."""
    from app import create_app
    from app.extensions import db

    app = create_app({"DEPLOY_BPMN_ON_START": False})
    client, purchases = app.test_client(), Purchases(tills[0])

    def buy() -> None:
        key = {"Idempotency-Key": uuid.uuid4().hex}
        response = client.post(PATH, json=purchases.next(), headers=purchases.headers | key)
        if response.status_code != 201:
            raise RuntimeError(f"API purchase: {response.status_code} {response.get_data(True)}")

    for _ in range(WARM_UP):
        buy()
    with app.app_context():
        engine = db.engine
    statements, calls, cpu = counted(engine), 200, time.process_time()
    for _ in range(calls):
        buy()
    found = {"sql": statements[0] / calls, "cpu_ms": (time.process_time() - cpu) * 1000 / calls}
    if profile:
        profiler = cProfile.Profile()
        profiler.runcall(lambda: [buy() for _ in range(300)])
        print("where 300 API purchases spend their time (in-process, Flask's test client):")
        stats = pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative")
        stats.print_stats(r"/app/|/ledger/|flask|webargs|marshmallow|sqlalchemy/orm/session", 30)
    engine.dispose()
    return found | {"made": WARM_UP + calls + (300 if profile else 0)}


# -- the report -----------------------------------------------------------------------------


def figures(timed: list[tuple[float, float]]) -> dict:
    """Purchases, purchases/s over the phase's wall time, and latency percentiles."""
    latencies = [ms for _, ms in timed]
    seconds = max(t for t, _ in timed) - min(t - ms / 1000 for t, ms in timed) if timed else 1
    return {"n": len(latencies), "per_s": len(latencies) / seconds,
            **{f"p{q}": percentile(latencies, q) for q in (50, 95, 99)}}  # fmt: skip


def line(label: str, phase: str, f: dict, cpu: dict | None = None, client_ms=None) -> str:
    """One row of the table."""
    text = (f"{label:<26}{phase:<7}{f['n']:>7}{f['per_s']:>8.1f}"
            f"{f['p50']:>7.1f}{f['p95']:>7.1f}{f['p99']:>7.1f}")  # fmt: skip
    if cpu is not None:
        shares = "".join(f"{100 * cpu[k]:>5.0f}%" for k in CPU_PARTS)
        text += f"  {shares}{client_ms:>7.2f}"
    return text


def report(opts, runs: dict, local: dict, cost: tuple, check: tuple) -> dict:
    """Print the table and the checks; the figures of the last line."""
    print(f"{opts.terminals} POS terminals, each a process with one HTTP connection (kept alive "
          "by gthread; sync workers close it after each reply); "
          f"{opts.seconds:g} s a phase; paced: a purchase every {opts.think:g} s on average "
          f"per terminal; {os.cpu_count()} cores for server, PostgreSQL and clients")  # fmt: skip
    print(f"{'gunicorn':<26}{'phase':<7}{'buys':>7}{'per s':>8}{'p50':>7}{'p95':>7}{'p99':>7}"
          "  " + "".join(f"{k[:5]:>6}" for k in CPU_PARTS) + f"{'cl ms':>7}")  # fmt: skip
    for label, run in runs.items():
        for phase in PHASES:
            cpu, client_ms = run[f"{phase}_cpu"], run[f"{phase}_client_ms"]
            print(line(label, phase, figures(run[phase]), cpu, client_ms))
    print(line("in-process ledger, 1 proc", "burst", local))
    print("latency in ms; CPU: shares of the machine's time (rest: other processes and the "
          "kernel); cl ms: the clients' CPU ms per purchase")  # fmt: skip
    best = max(runs, key=lambda label: figures(runs[label]["burst"])["per_s"])
    api, paced = figures(runs[best]["burst"]), figures(runs[best]["paced"])
    idle = runs[best]["burst_cpu"]["idle"]
    ratio = api["per_s"] / local["per_s"]
    print(f"fastest: gunicorn {best} (most purchases/s in the burst phase, {100 * idle:.0f}% "
          f"idle); api / in-process purchases/s = {ratio:.2f}")  # fmt: skip
    api_cost, ledger_cost = cost
    for what, c in (("through the API (test client)", api_cost), ("by the ledger op", ledger_cost)):
        print(f"per purchase {what}: {c['sql']:.1f} SQL statements, {c['cpu_ms']:.2f} ms CPU")
    print(f"check: {check[0]} purchase journal entries, {check[1]} purchases answered 201 or "
          f"made in-process; ledger check: {check[2] or 'no problems'}")  # fmt: skip
    busiest = max(run[f"{phase}_cpu"]["rest"] for run in runs.values() for phase in PHASES)
    if busiest > 0.1:
        print(f"warning: other processes took up to {100 * busiest:.0f}% of the machine's CPU "
              "during a phase; the figures understate what the server can do")  # fmt: skip
    print("goal: p95 < 30 ms at 16 terminals")
    return {"api_purchases_per_s": api["per_s"], "api_p50_ms": api["p50"],
            "api_p95_ms": api["p95"], "api_p99_ms": api["p99"], "api_paced_p95_ms": paced["p95"],
            "inprocess_per_s": local["per_s"], "ratio": ratio,
            "setting": best}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--terminals", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--think", type=float, default=0.5, help="paced: mean seconds between")
    parser.add_argument("--quick", action="store_true", help="short runs, a smoke check")
    parser.add_argument("--profile", action="store_true", help="profile API purchases")
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    opts = parser.parse_args()
    if opts.quick:
        opts.seconds = 3.0
    name = f"cardoffice_bench_api_{uuid.uuid4().hex[:6]}"
    url = database(opts.pg, name)
    try:
        tills = seed(url, opts.terminals)
        before = audit(url)[0]
        api_cost = inspect_api(tills, opts.profile)
        runs = {s[0]: drive(url, s, tills, opts.seconds, opts.think) for s in SETTINGS}
        local, ledger_cost = in_process(url, tills, opts.seconds)
        entries, problems = audit(url)
        entries -= before
    finally:
        database(opts.pg, name, create=False)
    errors = [e for run in runs.values() for e in run["errors"]]
    answered = sum(len(r[p]) for r in runs.values() for p in PHASES) - len(errors)
    answered += sum(r["warm_up"] for r in runs.values()) + api_cost["made"] + len(local)
    check = (entries, answered, problems)
    result = report(opts, runs, figures(local), (api_cost, ledger_cost), check)
    if errors or problems or entries != answered:
        raise SystemExit(f"{len(errors)} failed purchases, e.g. {errors[:3]}; {check}")
    print(json.dumps({k: v if isinstance(v, str) else round(v, 2) for k, v in result.items()}))


if __name__ == "__main__":
    main()

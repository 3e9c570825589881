"""Purchases per second on PostgreSQL (1 and 8 clients) and SQLite (1 client), side by side
with pgbench's built-in tpcb-like script against the same server.

    .venv/bin/python bench/ledger.py [--seconds 10] [--pg postgresql+psycopg://...]

Each purchase is one transaction through `ledger.ops.money.purchase` with an idempotency key,
as a POS terminal sends it. Clients are processes, as pgbench's are connections. The last line
is one JSON object: sqlite_1, pg_1, pg_8, pgbench_1, pgbench_8 and ratio_8 = pg_8 / pgbench_8.
"""

import argparse
import json
import multiprocessing as mp
import random
import re
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import ledger.models  # noqa: E402, F401
from ledger.base import Base  # noqa: E402
from ledger.config import LedgerConfig  # noqa: E402
from ledger.context import Ctx  # noqa: E402
from ledger.db import configure_engine  # noqa: E402
from ledger.errors import DomainError  # noqa: E402
from ledger.models.merchants import MerchantCategory, TerminalKind  # noqa: E402
from ledger.models.people import Department, DepartmentKind, Person, PersonCategory  # noqa: E402
from ledger.ops.cards import issue_card  # noqa: E402
from ledger.ops.merchants import admit_merchant, register_terminal  # noqa: E402
from ledger.ops.money import TopUpMethod, top_up  # noqa: E402

CARDS, MERCHANTS, TERMINALS_EACH = 2000, 32, 1
CONFIG = LedgerConfig(password_cost=2**4, daily_limit=60000)
NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a Friday


def seed(engine) -> tuple[list[str], list[str]]:
    """Cards with 1,000 yuan each and POS terminals at a few canteens, committed."""
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    with Session(engine) as session, session.begin():
        ctx = Ctx(session=session, actor="bench", now=NOW, config=CONFIG)
        dept = Department(code="BENCH", name_zh="测试", name_en="Bench", kind=DepartmentKind.UNIT)
        session.add(dept)
        session.flush()
        terminals = []
        for m in range(MERCHANTS):
            admit_merchant(
                ctx,
                code=f"BM{m}",
                name=f"食堂{m}",
                category=MerchantCategory.CANTEEN,
                location="第一食堂",
                operator_department_id=dept.id,
                supervising_department_id=dept.id,
                commercial=m % 2 == 0,
            )
            for t in range(TERMINALS_EACH):
                register_terminal(ctx, f"BM{m}", f"BT{m}-{t}", TerminalKind.POS, "第一食堂")
                terminals.append(f"BT{m}-{t}")
        people = [
            Person(
                name=f"学生{i}",
                id_type="resident_id",
                id_number=f"B{i:017d}",
                category=PersonCategory.UNDERGRADUATE,
                department_id=dept.id,
            )
            for i in range(CARDS)
        ]
        session.add_all(people)
        session.flush()
        cards = []
        for person in people:
            card_no = issue_card(ctx, person.id)["card_no"]
            top_up(ctx, card_no, 100_000, TopUpMethod.CASH)
            cards.append(card_no)
    return cards, terminals


def _client(url: str, cards, terminals, seconds: float, start, counts) -> None:
    from ledger.ops.money import purchase

    engine = configure_engine(create_engine(url, pool_size=1))
    session = Session(engine)  # one per client, as a worker keeps its own
    ctx = Ctx(session=session, actor="pos", now=NOW, config=CONFIG)
    rng = random.Random()
    done = failed = 0
    start.wait()
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        try:
            with session.begin():
                purchase(
                    ctx,
                    rng.choice(cards),
                    rng.choice(terminals),
                    rng.randint(100, 1500),
                    idempotency_key=uuid.uuid4().hex,
                )
            done += 1
        except DomainError:
            failed += 1
    counts.put((done, failed))
    engine.dispose()


def purchases_per_second(url: str, clients: int, seconds: float, cards, terminals) -> float:
    """Run `clients` processes purchasing for `seconds`; return committed purchases/s."""
    ctx = mp.get_context("spawn")
    start, counts = ctx.Barrier(clients + 1), ctx.Queue()
    procs = [
        ctx.Process(target=_client, args=(url, cards, terminals, seconds, start, counts))
        for _ in range(clients)
    ]
    for p in procs:
        p.start()
    start.wait()
    began = time.perf_counter()
    results = [counts.get() for _ in procs]
    elapsed = time.perf_counter() - began
    for p in procs:
        p.join()
    return sum(done for done, _ in results) / max(elapsed, seconds)


def pgbench_tps(url: URL, clients: int, seconds: float) -> float:
    """pgbench's tpcb-like transactions per second against the same server."""
    args = ["-h", url.host or "127.0.0.1", "-p", str(url.port or 5432), "-U", url.username]
    run = subprocess.run(
        [
            "pgbench",
            *args,
            "-c",
            str(clients),
            "-j",
            str(clients),
            "-T",
            str(int(seconds)),
            url.database,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(re.search(r"tps = ([\d.]+)", run.stdout).group(1))


def create_database(admin_url: str, name: str) -> URL:
    """A fresh database on the server of `admin_url`."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(admin_url).set(database=name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--pgbench-scale", type=int, default=8)
    opts = parser.parse_args()

    pg = create_database(opts.pg, "cardoffice_bench")
    pgb = create_database(opts.pg, "cardoffice_pgbench")
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_url = f"sqlite:///{tmp}/bench.sqlite3"
        sqlite_engine = configure_engine(create_engine(sqlite_url))
        cards, terminals = seed(sqlite_engine)
        sqlite_engine.dispose()
        figures = {"sqlite_1": purchases_per_second(sqlite_url, 1, opts.seconds, cards, terminals)}
    pg_engine = create_engine(pg)
    cards, terminals = seed(pg_engine)
    pg_engine.dispose()
    pg_url = pg.render_as_string(hide_password=False)
    for clients in (1, 8):
        figures[f"pg_{clients}"] = purchases_per_second(
            pg_url, clients, opts.seconds, cards, terminals
        )
    args = ["-h", pgb.host, "-p", str(pgb.port or 5432), "-U", pgb.username]
    subprocess.run(
        ["pgbench", *args, "-i", "-q", "-s", str(opts.pgbench_scale), pgb.database],
        check=True,
        capture_output=True,
    )
    for clients in (1, 8):
        figures[f"pgbench_{clients}"] = pgbench_tps(pgb, clients, opts.seconds)
    figures["ratio_8"] = figures["pg_8"] / figures["pgbench_8"]
    print_table(figures, opts)
    print(json.dumps({k: round(v, 3 if k == "ratio_8" else 1) for k, v in figures.items()}))


def print_table(figures: dict, opts) -> None:
    """The figures side by side with their anchors."""
    print(f"{'measure':<34}{'1 client':>12}{'8 clients':>12}")
    print(f"{'ledger purchases/s, SQLite':<34}{figures['sqlite_1']:>12.1f}{'-':>12}")
    print(f"{'ledger purchases/s, PostgreSQL':<34}{figures['pg_1']:>12.1f}{figures['pg_8']:>12.1f}")
    label = f"pgbench tpcb-like tps (scale {opts.pgbench_scale})"
    print(f"{label:<34}{figures['pgbench_1']:>12.1f}{figures['pgbench_8']:>12.1f}")
    print(f"ratio_8 = pg_8 / pgbench_8 = {figures['ratio_8']:.3f} (goal >= 0.30)")


if __name__ == "__main__":
    main()

"""What the approval engine costs over SpiffWorkflow alone, and how fast an inbox page is.

    .venv/bin/python bench/engine.py [--seconds 10] [--quick] [--profile] [--pg postgresql+...]

Process `bench_seq` (bench/engine_seq.bpmn): a start form, three sequential approvals in three
role lanes (form "decision"), one no-op service task. Measured:

- persisted runs/s on SQLite (a temp file) and PostgreSQL (a database made for the run and
  dropped after): instances.start_instance, then tasks.complete three times, each step in its
  own session and committed, as four web requests would be;
- raw runs/s: the same BPMN with SpiffWorkflow alone, in memory, never serialized (and,
  for diagnosis, serialized_per_s: the same with the engine's JSON save + load per step);
- overhead = raw / persisted SQLite (goal <= 5);
- p95 of one approver's first inbox page (20 rows; scope_of + inbox_page, 3 role grants,
  ~1/3 of open tasks in scope) with 1,000 and 100,000 open tasks (goal <= 10 ms, and 100k
  within 1.5x of 1k), on PostgreSQL and SQLite.

--profile runs the persisted SQLite loop under cProfile and prints its top 30 (no JSON).
The last line is one JSON object of the figures.
"""

import argparse
import cProfile
import itertools
import json
import pstats
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from marshmallow import Schema, fields
from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import database  # noqa: E402  (bench/common.py, beside this script)

import workflows.models  # noqa: E402, F401  (every table on Base.metadata)
from forms import register_form  # noqa: E402
from ledger.base import Base  # noqa: E402
from ledger.db import configure_engine  # noqa: E402
from ledger.models.people import Department, DepartmentKind  # noqa: E402
from workflows import inbox, instances, spiff, tasks  # noqa: E402
from workflows.context import Env  # noqa: E402
from workflows.deploy import deploy_sources  # noqa: E402
from workflows.identity import Role, RoleGrant, User  # noqa: E402
from workflows.models import HumanTask, InstanceStatus, ProcessInstance, TaskState  # noqa: E402
from workflows.registry import action  # noqa: E402

BPMN = Path(__file__).with_name("engine_seq.bpmn")
PROCESS = "bench_seq"
APPROVE = {"decision": "approve", "comment": "同意"}
REQUEST = {"amount": 120, "reason": "补办校园卡"}
INBOX_ROLES = [Role.DEPT_APPROVER, Role.CARD_OFFICE, Role.SETTLEMENT, Role.SUPERVISING_DEPT,
               Role.IT_CENTER, Role.HR]  # fmt: skip
DEPARTMENTS, OTHER_USERS = 10, 19


@register_form("bench_request")
class BenchRequest(Schema):
    amount = fields.Integer(required=True, metadata={"label_zh": "金额", "label_en": "Amount"})
    reason = fields.String(required=True, metadata={"label_zh": "事由", "label_en": "Reason"})


@action("bench.noop")
def noop(env) -> dict:
    return {"ok": True}


def now() -> datetime:
    return datetime.now(UTC)


# -- persisted: the service layer on a real database ---------------------------------------


def seed(engine) -> dict:
    """Schema, the BPMN deployed, one department, an applicant and three approvers."""
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    with Session(engine) as s, s.begin():
        depts = [Department(code=f"BD{i}", name_zh=f"单位{i}", name_en=f"Unit {i}",
                            kind=DepartmentKind.COLLEGE) for i in range(DEPARTMENTS)]  # fmt: skip
        s.add_all(depts)
        s.flush()
        deploy_sources(s, {BPMN.name: BPMN.read_bytes()})
        ids = {"dept": depts[0].id, "depts": [d.id for d in depts]}
        for name, role, department in [
            ("applicant", Role.APPLICANT, ids["dept"]),
            ("head", Role.DEPT_APPROVER, ids["dept"]),
            ("office", Role.CARD_OFFICE, None),
            ("settle", Role.SETTLEMENT, None),
        ]:
            user = User(username=f"bench_{name}", display_name=name, password_hash="-")
            user.grants.append(RoleGrant(role=role, department_id=department))
            s.add(user)
            s.flush()
            ids[name] = user.id
        return ids


_keys = itertools.count(1)


def persisted_run(engine, ids: dict) -> None:
    """One request start to finish: four committed transactions."""
    with Session(engine) as s:
        env = Env(s, s.get(User, ids["applicant"]), now())
        key = f"B-{next(_keys)}-{uuid.uuid4().hex[:6]}"
        instance_id = instances.start_instance(env, PROCESS, key, REQUEST, ids["dept"]).id
        s.commit()
    for who in ("head", "office", "settle"):
        with Session(engine) as s:
            task_id = s.scalar(
                select(HumanTask.id).where(
                    HumanTask.instance_id == instance_id, HumanTask.state == TaskState.OPEN
                )
            )
            tasks.complete(Env(s, s.get(User, ids[who]), now()), task_id, APPROVE)
            s.commit()


def check_all_completed(engine) -> None:
    """Every instance the loop started ran to its end (checked once, after timing)."""
    with Session(engine) as s:
        statuses = set(s.scalars(select(ProcessInstance.status).distinct()))
    assert statuses == {InstanceStatus.COMPLETED}, f"instances ended {statuses}"


def rate(fn, seconds: float) -> float:
    """Calls of `fn` per second over about `seconds` (after one warm-up call)."""
    fn()
    done, began = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - began) < seconds:
        fn()
        done += 1
    return done / elapsed


# -- raw: SpiffWorkflow alone ---------------------------------------------------------------


class NoopEngine(spiff.PythonScriptEngine):
    def call_service(self, task, operation_name=None, operation_params=None, **_kw):
        return json.dumps({"ok": True})


def raw_runner(serialize: bool = False):
    """One run in memory; with `serialize`, saved to JSON and loaded back between steps as
    the engine does (spiff.save_workflow / load_workflow), still without a database."""
    parser = spiff.new_parser()
    parser.add_bpmn_file(str(BPMN))
    specs = parser.get_spec(PROCESS), parser.get_subprocess_specs(PROCESS)
    engine = NoopEngine()

    def run() -> None:
        workflow = spiff.BpmnWorkflow(*specs, script_engine=engine)
        for task in workflow.get_tasks(state=spiff.TaskState.READY):
            task.data.update(REQUEST)
        workflow.do_engine_steps()
        for _ in range(3):
            if serialize:
                workflow = spiff.load_workflow(spiff.save_workflow(workflow), specs, engine)
            (task,) = workflow.get_tasks(state=spiff.TaskState.READY, manual=True)
            task.data.update(APPROVE)
            task.run()
            workflow.do_engine_steps()
        assert workflow.is_completed() and workflow.data["noop_result"] == {"ok": True}

    return run


# -- inbox ----------------------------------------------------------------------------------


def load_open_tasks(engine, ids: dict, count: int, rng: random.Random) -> None:
    """`count` open task rows over INBOX_ROLES x departments, a tenth assigned to someone,
    on one instance per three tasks; then ANALYZE."""
    with Session(engine) as s, s.begin():
        instance = dict(definition_id=s.scalar(text("SELECT min(id) FROM process_definitions")),
                        process_id=PROCESS, title="负载", state="{}", serializer_version="-",
                        status=InstanceStatus.RUNNING, started_by_id=ids["applicant"])  # fmt: skip
        others = [User(username=f"bench_o{uuid.uuid4().hex[:8]}", display_name="o",
                       password_hash="-") for _ in range(OTHER_USERS)]  # fmt: skip
        s.add_all(others)
        s.flush()
        assignees = [u.id for u in others] + [ids["approver"]]
        base = now() - timedelta(days=90)
        for start in range(0, count, 10_000):
            n = min(10_000, count - start)
            tag = uuid.uuid4().hex[:8]
            keys = [instance | {"business_key": f"L-{tag}-{i}"} for i in range((n + 2) // 3)]
            inst_ids = s.scalars(insert(ProcessInstance).returning(ProcessInstance.id), keys).all()
            rows = []
            for i in range(n):
                rows.append(dict(
                    instance_id=inst_ids[i // 3], spiff_task_id=None, task_name="dept_review",
                    title="审核", candidate_role=rng.choice(INBOX_ROLES),
                    candidate_department_id=rng.choice(ids["depts"]),
                    assignee_id=rng.choice(assignees) if rng.random() < 0.1 else None,
                    form="decision", state=TaskState.OPEN, process_id=PROCESS,
                    business_key=f"L-{tag}-{i // 3}", instance_title="负载", requester_name="x",
                    created_at=base + timedelta(seconds=rng.uniform(0, 90 * 86400)),
                ))  # fmt: skip
            s.execute(insert(HumanTask), rows)
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()


def inbox_p95(engine, user_id: int, fetches: int) -> tuple[float, float, int]:
    """(p50 ms, p95 ms, rows on the page) of scope_of + inbox_page, a fresh session each."""
    times, today, size = [], now().date(), 0
    for i in range(fetches + 50):
        with Session(engine) as s:
            user = s.get(User, user_id)
            began = time.perf_counter()
            page = inbox.inbox_page(s, inbox.scope_of(s, user, today))
            took = (time.perf_counter() - began) * 1000
            size = len(page)
            s.rollback()
        if i >= 50:  # warm-up
            times.append(took)
    return statistics.median(times), statistics.quantiles(times, n=20)[-1], size


def inbox_figures(engine, ids: dict, fetches: int, big: int) -> dict:
    """Inbox p95 with 1,000 then `big` open tasks in the database."""
    with Session(engine) as s, s.begin():
        approver = User(username="bench_approver", display_name="审批人", password_hash="-")
        for role, dept in ((Role.CARD_OFFICE, None), (Role.SETTLEMENT, None),
                           (Role.DEPT_APPROVER, ids["depts"][1])):  # fmt: skip
            approver.grants.append(RoleGrant(role=role, department_id=dept))
        s.add(approver)
        s.flush()
        ids["approver"] = approver.id
    rng, out = random.Random(7), {}
    load_open_tasks(engine, ids, 1000, rng)
    out["1k"] = inbox_p95(engine, ids["approver"], fetches)
    load_open_tasks(engine, ids, big - 1000, rng)
    out["big"] = inbox_p95(engine, ids["approver"], fetches)
    return out


# -- main -----------------------------------------------------------------------------------


def profile(engine, ids: dict, seconds: float) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    runs = rate(lambda: persisted_run(engine, ids), seconds)
    profiler.disable()
    print(f"persisted SQLite under cProfile: {runs:.1f} runs/s")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--quick", action="store_true", help="short runs, a smoke check")
    parser.add_argument("--profile", action="store_true", help="cProfile the SQLite loop")
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    opts = parser.parse_args()
    seconds = 1.0 if opts.quick else opts.seconds
    fetches, big = (200, 10_000) if opts.quick else (500, 100_000)
    f = {}
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = configure_engine(create_engine(f"sqlite:///{tmp}/engine.sqlite3"))
        ids = seed(sqlite)
        if opts.profile:
            return profile(sqlite, ids, seconds)
        f["persisted_per_s_sqlite"] = rate(lambda: persisted_run(sqlite, ids), seconds)
        check_all_completed(sqlite)
        f["raw_per_s"] = rate(raw_runner(), seconds)
        f["serialized_per_s"] = rate(raw_runner(serialize=True), seconds)
        sq_inbox = inbox_figures(sqlite, ids, fetches, big)
        sqlite.dispose()
    name = f"cardoffice_bench_engine_{uuid.uuid4().hex[:6]}"
    pg = create_engine(database(opts.pg, name))
    try:
        ids = seed(pg)
        f["persisted_per_s_pg"] = rate(lambda: persisted_run(pg, ids), seconds)
        check_all_completed(pg)
        pg_inbox = inbox_figures(pg, ids, fetches, big)
    finally:
        pg.dispose()
        database(opts.pg, name, create=False)
    f["overhead"] = f["raw_per_s"] / f["persisted_per_s_sqlite"]
    # The same against a raw run that also saves and loads its state between steps.
    f["overhead_vs_serialized"] = f["serialized_per_s"] / f["persisted_per_s_sqlite"]
    size = "100k" if big == 100_000 else f"{big // 1000}k"
    for db, figs in (("", pg_inbox), ("_sqlite", sq_inbox)):
        f[f"inbox_p95_ms_{size}{db}"] = figs["big"][1]
        f[f"inbox_p95_ms_1k{db}"] = figs["1k"][1]
    print_table(f, pg_inbox, sq_inbox, size)
    print(json.dumps({k: round(v, 2) for k, v in f.items()}))


def print_table(f: dict, pg_inbox: dict, sq_inbox: dict, size: str) -> None:
    print(f"{'measure':<46}{'SQLite':>12}{'PostgreSQL':>12}")
    print(f"{'persisted runs/s (start + 3 approvals)':<46}"
          f"{f['persisted_per_s_sqlite']:>12.1f}{f['persisted_per_s_pg']:>12.1f}")  # fmt: skip
    print(f"{'raw SpiffWorkflow runs/s (in memory)':<46}{f['raw_per_s']:>12.1f}{'-':>12}")
    label = "  same, JSON save + load between steps"
    print(f"{label:<46}{f['serialized_per_s']:>12.1f}{'-':>12}")
    for key, label in (("1k", "1k"), ("big", size)):
        for i, stat in enumerate(("p50", "p95")):
            name = f"inbox {stat} ms, {label} open tasks"
            print(f"{name:<46}{sq_inbox[key][i]:>12.2f}{pg_inbox[key][i]:>12.2f}")
    print(f"rows on the page: {pg_inbox['big'][2]} (PostgreSQL), {sq_inbox['big'][2]} (SQLite)")
    ratio = f[f"inbox_p95_ms_{size}"] / f["inbox_p95_ms_1k"]
    print(f"overhead = raw / persisted SQLite = {f['overhead']:.1f} (goal <= 5)")
    print(f"  against raw with save + load: {f['overhead_vs_serialized']:.1f}")
    print(f"inbox PostgreSQL p95 {size}/1k = {ratio:.2f} (goal <= 1.5, and <= 10 ms)")


if __name__ == "__main__":
    main()

"""kill -9 under load: gunicorn workers and timer workers die mid-operation, 20 times, on
PostgreSQL; afterwards no instance is stuck between states, no task was decided twice, no
timer was lost or fired twice, the ledger check passes and every Idempotency-Key moved money
once.

The load: POS terminals buying through the API (each purchase under its own key, sent again
with the same key after a lost answer or a 5xx), department approvers and card-office clerks
deciding tasks through the API with their personal tokens, and two `flask workflows worker`
processes firing timers. The timers are a small process deployed for the run, whose wait (and
then its deadline, interrupting the task people are deciding) falls due during the run, so
kills land while timers fire and while decisions race them. A client that loses its answer
does not know what happened and asks again; only the database says.
"""

import http.client
import json
import os
import random
import signal
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import api as bench_api  # bench/api.py: conftest.py puts bench/ on the path
import load as bench_load  # bench/load.py
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import create_app
from app.auth.accounts import find_user
from app.cli import consistency
from app.engine import engine_config
from app.extensions import db
from app.uow import unit_of_work
from ledger.models.journal import EntryKind
from tests.faults.conftest import environ_kept
from tests.faults.invariants import all_problems, entries_so_far, last_timer_pass
from workflows.context import Env
from workflows.deploy import deploy_sources
from workflows.identity import Role
from workflows.instances import start_instance
from workflows.models import AuditEntry, HumanTask, ProcessInstance, TaskState, Timer

pytestmark = pytest.mark.postgres

KILLS = 20
TERMINALS, APPROVERS, CLERKS, REQUESTS, TIMED = 2, 2, 2, 40, 30
#: The timed process's wait falls due 8 to 27 s after it starts, its deadline 1 to 3 s later:
#: about the time a clerk takes to pick the task up, so the two race.
WAIT, DEADLINE = '"PT" + str(8 + instance_id % 20) + "S"', '"PT" + str(1 + instance_id % 3) + "S"'
#: What each role's deciders decide: (role, task names).
STEPS = {
    "dept_approver": (Role.DEPT_APPROVER, ("dept_certify",)),
    "card_office": (Role.CARD_OFFICE, ("office_review", "follow_up")),
}
TIMED_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="fault_defs"
  targetNamespace="http://cup.edu.cn/cardoffice/tests">
  <bpmn:process id="fault_timer" name="定时跟进" isExecutable="true">
    <bpmn:laneSet id="lanes"><bpmn:lane id="card_office" name="卡务中心">
      <bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>wait</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>follow_up</bpmn:flowNodeRef><bpmn:flowNodeRef>late</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>done</bpmn:flowNodeRef><bpmn:flowNodeRef>lapsed</bpmn:flowNodeRef>
    </bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="wait" name="等待">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeDuration>WAIT</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:userTask id="follow_up" name="跟进">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="form" value="decision"/>
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:boundaryEvent id="late" name="逾期" attachedToRef="follow_up" cancelActivity="true">
      <bpmn:outgoing>f4</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeDuration>DEADLINE</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:endEvent id="done"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="lapsed"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait"/>
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="follow_up"/>
    <bpmn:sequenceFlow id="f3" sourceRef="follow_up" targetRef="done"/>
    <bpmn:sequenceFlow id="f4" sourceRef="late" targetRef="lapsed"/>
  </bpmn:process>
</bpmn:definitions>
""".replace("WAIT", WAIT).replace("DEADLINE", DEADLINE)


# -- set-up ---------------------------------------------------------------------------------


@dataclass
class Seeded:
    tills: list  # bench/api.py's (code, place, device key, cards)
    deciders: list  # (API token, role, task names they decide)
    purchases_before: int = 0


def seed(url) -> Seeded:
    """bench/load.py's seed (bench/api.py's terminals and cards, approvers of CS with
    bench/web.py's requests waiting for them), card-office clerks, an API token each, and
    TIMED instances of the timed process."""
    people = [(f"bench{n:02d}", "dept_approver", "CS") for n in range(APPROVERS)]
    people += [(f"clerk{n}", "card_office", None) for n in range(CLERKS)]
    with environ_kept():
        tills, tokens = bench_load.seed(url, TERMINALS, people, REQUESTS)
    app = app_on(url)
    with app.app_context():
        with unit_of_work():
            deploy_sources(db.session, {"fault_timer.bpmn": TIMED_BPMN.encode()})
            clerk = find_user(db.session, "clerk0")
            env = Env(db.session, clerk, datetime.now(UTC), engine_config(app))
            for n in range(TIMED):
                start_instance(env, "fault_timer", f"TIMED-{n:03d}", {})
            before = entries_so_far(db.session, EntryKind.PURCHASE)
        db.engine.dispose()
    deciders = [(tokens[name], *STEPS[role]) for name, role, _dept in people]
    return Seeded(tills, deciders, before)


def app_on(url):
    """The app (testing settings) on the database at `url`."""
    uri = url.render_as_string(hide_password=False)
    return create_app({"APP_CONFIG": "testing", "SQLALCHEMY_DATABASE_URI": uri,
                       "DEPLOY_BPMN_ON_START": False})  # fmt: skip


# -- clients --------------------------------------------------------------------------------


@dataclass
class Tally:
    """What the clients did and saw, shared by their threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    calls: int = 0
    unknown: dict = field(default_factory=dict)  # lost answers per kind: asked again
    statuses: dict = field(default_factory=dict)
    purchases: dict = field(default_factory=dict)  # ledger key: (amount, answered 201)
    decided: dict = field(default_factory=dict)  # task id: [token of each 200]
    errors: list = field(default_factory=list)  # what ended a client thread

    def thread(self, target, *args) -> threading.Thread:
        """A client thread that keeps what ended it in `errors`."""

        def run() -> None:
            try:
                target(*args, self)
            except Exception as exc:  # an unexpected reply: the test fails on it
                self.errors.append(f"{target.__name__}: {exc!r}")

        return threading.Thread(target=run)

    def note(self, status: int) -> None:
        with self.lock:
            self.calls += 1
            self.statuses[status] = self.statuses.get(status, 0) + 1


def call_until_known(port, path: str, body: dict, headers: dict, tally: Tally, deadline: float):
    """POST until an answer comes (the same request again, same key, after a lost one or a
    5xx, until `deadline`): (status, reply), or (None, None) if it never came."""
    headers = headers | {"Content-Type": "application/json"}
    while time.time() < deadline:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
        try:
            connection.request("POST", path, json.dumps(body), headers)
            response = connection.getresponse()
            status, reply = response.status, response.read()
        except (OSError, http.client.HTTPException):
            status = reply = None
        finally:
            connection.close()
        if status is not None and status < 500:
            tally.note(status)
            return status, reply
        kind = "purchase" if path == bench_api.PATH else "decision"
        with tally.lock:
            tally.unknown[kind] = tally.unknown.get(kind, 0) + 1
        time.sleep(0.05)
    return None, None


def buyer(port, till, stopping: threading.Event, tally: Tally) -> None:
    """One POS terminal: purchases back to back, each under a new key until answered."""
    terminal = bench_api.Purchases(till)
    while not stopping.is_set():
        body, key = terminal.next(), uuid.uuid4().hex
        with tally.lock:
            tally.purchases[f"{terminal.actor}:{key}"] = (body["amount"], False)
        headers = terminal.headers | {"Idempotency-Key": key}
        status, reply = call_until_known(port, bench_api.PATH, body, headers, tally,
                                         time.time() + 60)  # fmt: skip
        assert status == 201, (status, reply)
        with tally.lock:
            tally.purchases[f"{terminal.actor}:{key}"] = (body["amount"], True)


def open_tasks(session: Session, names) -> list[tuple[int, str | None, str]]:
    """A few open tasks of these names: (id, form, name)."""
    query = select(HumanTask.id, HumanTask.form, HumanTask.task_name).where(
        HumanTask.state == TaskState.OPEN, HumanTask.task_name.in_(names)
    )
    return session.execute(query.order_by(HumanTask.id).limit(10)).all()


def decider(port, engine, who, stopping: threading.Event, tally: Tally) -> None:
    """One approver or clerk: picks one of the oldest open tasks of their steps and decides
    it (approves, or one time in eight rejects), asking again after a lost answer. A timed
    follow-up is read for up to 3 s first, so its deadline and the decision race."""
    token, _role, names = who
    rng = random.Random(token)
    while not stopping.is_set():
        with Session(engine) as session:
            found = open_tasks(session, names)
        if not found:
            time.sleep(0.2)
            continue
        task_id, form, name = rng.choice(found)
        if name == "follow_up":  # read first: its 1 to 3 s deadline may close it meanwhile
            time.sleep(rng.uniform(0, 3))
        data = {"decision": "approve"} if rng.random() > 0.125 else {
            "decision": "reject", "comment": "不符合条件"}  # fmt: skip
        if form == "department_certification":
            data["certified"] = data["decision"] == "approve"
        headers = {"Authorization": f"Bearer {token}"}
        path = f"/api/v1/tasks/{task_id}/decide"
        status, reply = call_until_known(port, path, {"data": data}, headers, tally,
                                         time.time() + 60)  # fmt: skip
        assert status in (200, 409), (status, reply)  # 409: decided or cancelled meanwhile
        if status == 200:
            with tally.lock:
                tally.decided.setdefault(task_id, []).append(token)


# -- the faults -----------------------------------------------------------------------------


def kill_now(server, workers: list, url, rng: random.Random, killed: dict) -> None:
    """SIGKILL one gunicorn worker (the master forks another) or, one time in three, one
    timer worker (started again at once, as systemd would)."""
    if rng.random() < 1 / 3:
        n = rng.randrange(len(workers))
        os.kill(workers[n].pid, signal.SIGKILL)
        workers[n].wait()
        workers.replace(n, url)
        killed["timer_worker"] += 1
        return
    for _ in range(100):
        if pids := server.workers():
            os.kill(rng.choice(pids), signal.SIGKILL)
            killed["gunicorn_worker"] += 1
            return
        time.sleep(0.05)
    raise AssertionError("gunicorn forks no workers any more")


def timed_due(engine) -> datetime | None:
    """When the last open timer of the timed process falls due (None: none is open, so
    every instance of it has ended: a follow-up task always waits with its deadline)."""
    query = (
        select(func.max(Timer.due_at))
        .join(ProcessInstance, ProcessInstance.id == Timer.instance_id)
        .where(ProcessInstance.process_id == "fault_timer", Timer.state == TaskState.OPEN)
    )
    with Session(engine) as session:
        due = session.scalar(query)
    return due if due is None or due.tzinfo else due.replace(tzinfo=UTC)


def settle_timed(engine, app) -> int:
    """The last worker passes, each once the timed process's open timers are due, until none
    is open (a wait fired in the last pass opens a deadline): how many instances moved."""
    moved = 0
    for _ in range(3):
        due = timed_due(engine)
        if due is None:
            break
        time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 0.1)
        moved += last_timer_pass(lambda: Session(engine), app)
    return moved


def test_kill_nine_twenty_times_breaks_nothing(fault_db, server_for, timer_workers):
    seeded = seed(fault_db)
    began = time.time()
    server = server_for(fault_db, workers=3)
    for _ in range(2):
        timer_workers.start(fault_db)
    app = app_on(fault_db)
    with app.app_context():
        engine = db.engine
    tally, stopping = Tally(), threading.Event()
    threads = [tally.thread(buyer, server.port, till, stopping) for till in seeded.tills]
    threads += [tally.thread(decider, server.port, engine, who, stopping)
                for who in seeded.deciders]  # fmt: skip
    for thread in threads:
        thread.start()
    rng, killed = random.Random(8), {"gunicorn_worker": 0, "timer_worker": 0}
    for _ in range(KILLS):
        time.sleep(rng.uniform(0.8, 2.2))
        kill_now(server, timer_workers, fault_db, rng, killed)
    killed["kills_done_at"] = round(time.time() - began, 1)
    while timed_due(engine) is not None and time.time() < began + 60:
        time.sleep(0.5)
    killed["stopped_at"] = round(time.time() - began, 1)
    stopping.set()
    for thread in threads:
        thread.join(timeout=90)
    server.stop()
    for process in timer_workers:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)

    with app.app_context():
        moved = settle_timed(engine, app)
        session = db.session
        problems = all_problems(session, {EntryKind.PURCHASE: tally.purchases},
                                {EntryKind.PURCHASE: seeded.purchases_before})  # fmt: skip
        figures = report(session, tally, killed, moved, time.time() - began)
        assert_decided_once(session, tally)
        assert_timed_process_fired_each_timer_once(session)
        command = app.test_cli_runner().invoke(consistency.group, ["check"])
        db.session.rollback()
        db.engine.dispose()  # before the database is dropped under its connections
    assert tally.errors == []
    assert problems == []
    assert command.exit_code == 0, command.output
    assert killed["gunicorn_worker"] + killed["timer_worker"] == KILLS
    assert killed["timer_worker"] >= 1 and killed["gunicorn_worker"] >= 1
    assert sum(tally.unknown.values()) >= 1  # a kill landed mid-request: a fault was seen
    assert figures["timers_fired"] >= TIMED  # every wait at least


def assert_decided_once(session: Session, tally: Tally) -> None:
    """Each task the clients got a 200 for was decided by that one client, and is completed."""
    twice = {task: tokens for task, tokens in tally.decided.items() if len(tokens) > 1}
    audits = session.execute(
        select(AuditEntry.human_task_id, AuditEntry.action, AuditEntry.actor_id, AuditEntry.seq,
               AuditEntry.state_before, AuditEntry.state_after, AuditEntry.instance_id)
        .where(AuditEntry.human_task_id.in_(list(twice)))
    ).all()  # fmt: skip
    assert twice == {}, audits
    rows = session.scalars(select(HumanTask).where(HumanTask.id.in_(list(tally.decided))))
    assert {row.id: row.state for row in rows} == dict.fromkeys(tally.decided,
                                                                TaskState.COMPLETED)  # fmt: skip


def assert_timed_process_fired_each_timer_once(session: Session) -> None:
    """Every timed instance ended: its wait fired once, then either its task was decided and
    its deadline closed unfired, or the deadline fired once and closed the task; one timer
    audit row per timer fired."""
    timers = session.execute(
        select(Timer.instance_id, Timer.task_name, Timer.state)
        .join(ProcessInstance, ProcessInstance.id == Timer.instance_id)
        .where(ProcessInstance.process_id == "fault_timer")
    )
    by_instance = {}
    for key, name, state in timers:
        by_instance.setdefault(key, {})[name] = state
    audits = dict(session.execute(
        select(AuditEntry.instance_id, func.count())
        .where(AuditEntry.action == "timer", AuditEntry.instance_id.in_(list(by_instance)))
        .group_by(AuditEntry.instance_id)).all())  # fmt: skip
    tasks = dict(session.execute(
        select(HumanTask.instance_id, HumanTask.state).where(HumanTask.process_id == "fault_timer")
    ).all())  # fmt: skip
    assert len(by_instance) == TIMED
    for key, states in by_instance.items():
        assert states["wait"] == TaskState.COMPLETED
        late_fired = states["late"] == TaskState.COMPLETED
        assert tasks[key] == (TaskState.CANCELLED if late_fired else TaskState.COMPLETED)
        assert audits[key] == 1 + late_fired
    ended = select(func.count()).where(HumanTask.process_id == "fault_timer")
    assert session.scalar(ended) == TIMED  # one follow-up task each, never two


def report(session: Session, tally: Tally, killed: dict, moved: int, seconds: float) -> dict:
    """Print what happened; the figures."""
    fired = session.scalar(select(func.count()).where(Timer.state == TaskState.COMPLETED))
    decided = session.scalar(select(func.count()).where(HumanTask.state == TaskState.COMPLETED))
    ended = session.scalar(select(func.count()).where(
        HumanTask.process_id == "fault_timer", HumanTask.state == TaskState.CANCELLED))  # fmt: skip
    figures = {
        "seconds": round(seconds, 1), **killed, "calls": tally.calls, "unknown": tally.unknown,
        "statuses": tally.statuses, "purchases": sum(ok for _a, ok in tally.purchases.values()),
        "decisions": len(tally.decided), "tasks_completed": decided, "timers_fired": fired,
        "lapsed_by_deadline": ended, "last_pass_moved": moved,
        "open_tasks": session.scalar(select(func.count()).select_from(HumanTask).where(
            HumanTask.state == TaskState.OPEN)),
    }  # fmt: skip
    print("kill -9 run:", json.dumps(figures, default=str))
    return figures

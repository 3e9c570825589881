"""Timers: an intermediate timer waits a day, a boundary timer gives a task its due date, and
several workers firing at once fire each timer exactly once.

SpiffWorkflow reads the wall clock for timers, so the clock is moved with time-machine to the
same moment the engine's `Env.now` says.
"""

import threading
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import NOW
from tests.workflows.conftest import BPMN_DIR, ENGINE_CONFIG
from workflows import instances, runtime, tasks, timers
from workflows.context import Env
from workflows.deploy import deploy_directory
from workflows.identity import Role, RoleGrant, User
from workflows.models import (
    AuditEntry,
    HumanTask,
    InstanceStatus,
    Notification,
    TaskState,
    Timer,
)

DAY = timedelta(days=1)


def travel(moment):
    return time_machine.travel(moment, tick=False)


def start_timer(env, key: str = "W-1"):
    with travel(env.now):
        return instances.start_instance(env, "timer", key, {})


def timer_rows(session, instance_id: int) -> list[Timer]:
    query = select(Timer).where(Timer.instance_id == instance_id).order_by(Timer.id)
    return list(session.scalars(query))


def timer_audits(session, instance_id: int) -> int:
    query = select(func.count()).where(
        AuditEntry.instance_id == instance_id, AuditEntry.action == "timer"
    )
    return session.scalar(query)


@pytest.fixture
def clerk(make_user):
    return make_user(Role.CARD_OFFICE, name="timer_clerk")


def test_the_timer_process_waits_a_day(db_session, deployed, env_for, clerk):
    instance = start_timer(env_for(clerk))
    assert instance.status == InstanceStatus.RUNNING
    assert runtime.open_tasks(db_session, instance.id) == []
    (row,) = timer_rows(db_session, instance.id)
    assert (row.task_name, row.state, row.due_at) == ("wait", TaskState.OPEN, NOW + DAY)
    assert instance.next_timer_at == NOW + DAY

    for early in (timedelta(0), timedelta(hours=23, minutes=59)):
        assert timers.due_instance_ids(db_session, NOW + early) == []
        with travel(NOW + early):
            assert not timers.fire_instance(Env(db_session, None, NOW + early, ENGINE_CONFIG),
                                            instance.id)  # fmt: skip
    assert runtime.open_tasks(db_session, instance.id) == []
    assert timer_audits(db_session, instance.id) == 0

    later = NOW + DAY
    assert timers.due_instance_ids(db_session, later) == [instance.id]
    with travel(later):
        assert timers.fire_instance(Env(db_session, None, later, ENGINE_CONFIG), instance.id)
    (task,) = runtime.open_tasks(db_session, instance.id)
    assert (task.task_name, task.candidate_role, task.created_at) == (
        "follow_up", Role.CARD_OFFICE, later,
    )  # fmt: skip
    (row,) = timer_rows(db_session, instance.id)
    assert (row.state, row.fired_at) == (TaskState.COMPLETED, later)
    assert instance.next_timer_at is None
    assert timer_audits(db_session, instance.id) == 1
    # Fired once: nothing is due any more.
    assert timers.due_instance_ids(db_session, later + DAY) == []
    with travel(later + DAY):
        assert not timers.fire_instance(Env(db_session, None, later + DAY, ENGINE_CONFIG),
                                        instance.id)  # fmt: skip
    assert len(runtime.open_tasks(db_session, instance.id)) == 1

    tasks.complete(env_for(clerk, at=later), task.id, {"decision": "approve"})
    assert instance.status == InstanceStatus.COMPLETED


def test_a_suspended_instance_fires_once_resumed(db_session, deployed, env_for, clerk, people):
    instance = start_timer(env_for(clerk))
    instances.suspend(env_for(people["admin"]), instance.id, "暂停")
    later = NOW + DAY
    assert timers.due_instance_ids(db_session, later) == []
    with travel(later):
        assert not timers.fire_instance(Env(db_session, None, later, ENGINE_CONFIG), instance.id)
    assert runtime.open_tasks(db_session, instance.id) == []
    assert timer_audits(db_session, instance.id) == 0

    instances.resume(env_for(people["admin"], at=later), instance.id)
    assert timers.due_instance_ids(db_session, later) == [instance.id]
    with travel(later):
        assert timers.fire_instance(Env(db_session, None, later, ENGINE_CONFIG), instance.id)
    assert [t.task_name for t in runtime.open_tasks(db_session, instance.id)] == ["follow_up"]
    assert timer_audits(db_session, instance.id) == 1


def test_the_boundary_timer_is_the_review_due_date(db_session, deployed, people, env_for, make,
                                                  dept):  # fmt: skip
    person = make.person(department=dept)
    data = {"person_id": person.id, "reason": "入职"}
    with travel(NOW):
        instance = instances.start_instance(
            env_for(people["applicant"]), "approval", "B-1", data, dept.id
        )
    (review,) = runtime.open_tasks(db_session, instance.id)
    assert review.task_name == "dept_review"
    assert review.due_at == NOW + 2 * DAY
    (row,) = timer_rows(db_session, instance.id)
    assert (row.task_name, row.due_at, row.state) == ("dept_late", NOW + 2 * DAY, TaskState.OPEN)
    assert timers.due_instance_ids(db_session, NOW + DAY) == []

    # Non-interrupting: when it fires the review stays open with the same task.
    later = NOW + 2 * DAY
    with travel(later):
        assert timers.fire_instance(Env(db_session, None, later, ENGINE_CONFIG), instance.id)
    (still,) = runtime.open_tasks(db_session, instance.id)
    assert (still.id, still.state) == (review.id, TaskState.OPEN)
    (row,) = timer_rows(db_session, instance.id)
    assert (row.state, row.fired_at) == (TaskState.COMPLETED, later)
    assert instance.status == InstanceStatus.RUNNING
    # Escalation: the overdue review's approver is told (engine.remind_overdue).
    overdue = select(Notification.user_id).where(
        Notification.instance_id == instance.id, Notification.kind == "overdue"
    )
    assert db_session.scalars(overdue).all() == [people["approver"].id]

    # Deciding in time closes the timer without firing it.
    with travel(NOW):
        other = instances.start_instance(
            env_for(people["applicant"]), "approval", "B-2", data, dept.id
        )
    (review,) = runtime.open_tasks(db_session, other.id)
    tasks.complete(env_for(people["approver"], later=DAY), review.id, {"decision": "approve"})
    (row,) = timer_rows(db_session, other.id)
    assert (row.state, row.fired_at) == (TaskState.CANCELLED, None)
    assert other.next_timer_at is None
    (office,) = runtime.open_tasks(db_session, other.id)
    assert (office.task_name, office.due_at) == ("office_review", None)


def _seed(engine, count: int) -> list[int]:
    """Deploy, and start `count` timer instances at NOW; committed."""
    with Session(engine) as session, session.begin():
        deploy_directory(session, BPMN_DIR)
        user = User(username="clerk", display_name="clerk", password_hash="-")
        user.grants.append(RoleGrant(role=Role.CARD_OFFICE))
        session.add(user)
        session.flush()
        env = Env(session, user, NOW, ENGINE_CONFIG)
        return [start_timer(env, f"W-{n}").id for n in range(count)]


def test_several_workers_fire_each_timer_once(committed_engine):
    ids = _seed(committed_engine, 20)
    later = NOW + DAY
    barrier = threading.Barrier(4)
    fired, errors = [], []

    def worker():
        try:
            barrier.wait()
            fired.append(
                timers.tick(lambda: Session(committed_engine), lambda: later, ENGINE_CONFIG)
            )
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    with travel(later):
        threads = [threading.Thread(target=worker) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert errors == []
    assert sum(fired) == 20
    with Session(committed_engine) as session:
        for instance_id in ids:
            assert timer_audits(session, instance_id) == 1
            (row,) = timer_rows(session, instance_id)
            assert (row.state, row.fired_at) == (TaskState.COMPLETED, later)
            tasks_ = session.scalars(
                select(HumanTask).where(HumanTask.instance_id == instance_id)
            ).all()
            assert [(t.task_name, t.state) for t in tasks_] == [("follow_up", TaskState.OPEN)]
        assert timers.due_instance_ids(session, later + DAY) == []


def test_tick_fires_one_after_another(committed_engine):
    """On either database, one worker's pass fires every due instance and a second pass
    finds nothing."""
    ids = _seed(committed_engine, 3)
    later = NOW + DAY

    def factory():
        return Session(committed_engine)

    with travel(later):
        assert timers.tick(factory, lambda: NOW + timedelta(hours=1), ENGINE_CONFIG) == 0
        assert timers.tick(factory, lambda: later, ENGINE_CONFIG) == 3
        assert timers.tick(factory, lambda: later, ENGINE_CONFIG) == 0
    with Session(committed_engine) as session:
        assert [timer_audits(session, i) for i in ids] == [1, 1, 1]


def test_flask_workflows_tick(tmp_path):
    """`flask workflows tick` fires due timers through the app's database."""
    from app import create_app
    from app.extensions import db
    from ledger.base import Base

    url = f"sqlite:///{tmp_path / 'app.sqlite3'}"
    app = create_app({"APP_CONFIG": "testing", "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        Base.metadata.create_all(db.engine)
        deploy_directory(db.session, BPMN_DIR)
        user = User(username="clerk", display_name="clerk", password_hash="-")
        user.grants.append(RoleGrant(role=Role.CARD_OFFICE))
        db.session.add(user)
        db.session.flush()
        instance_id = start_timer(Env(db.session, user, NOW, ENGINE_CONFIG)).id
        db.session.commit()
    runner = app.test_cli_runner()
    with travel(NOW + timedelta(hours=2)):
        result = runner.invoke(args=["workflows", "tick"])
    assert result.exit_code == 0, result.output
    assert "fired timers of 0 request(s)" in result.output
    with travel(NOW + DAY + timedelta(minutes=1)):
        result = runner.invoke(args=["workflows", "tick"])
    assert result.exit_code == 0, result.output
    assert "fired timers of 1 request(s)" in result.output
    with app.app_context():
        rows = db.session.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id))
        assert [row.task_name for row in rows] == ["follow_up"]
        assert timer_audits(db.session, instance_id) == 1
        db.engine.dispose()

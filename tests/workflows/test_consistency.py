"""workflows.consistency: a healthy database passes; each invariant, broken on purpose the way
a half-done change or a race would break it, is reported by its rule."""

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from tests.conftest import NOW
from workflows import audit, runtime, tasks
from workflows.consistency import find_inconsistencies
from workflows.instances import start_instance
from workflows.models import HumanTask, InstanceStatus, TaskState, Timer

DAY = timedelta(days=1)


def rules(session, now=NOW) -> set[tuple[str, int]]:
    return {(found.rule, found.instance_id) for found in find_inconsistencies(session, now)}


@pytest.fixture
def waiting(deployed, people, env_for):
    """A `timer` instance waiting a day, started at NOW."""
    with time_machine.travel(NOW, tick=False):
        timer = start_instance(env_for(people["clerk"]), "timer", "C-1", {})
    return timer


def test_running_and_ended_instances_in_step_pass(db_session, started, waiting, people, env_for):
    (review,) = runtime.open_tasks(db_session, started.id)
    tasks.complete(env_for(people["approver"]), review.id, {"decision": "reject",
                                                             "comment": "不符"})  # fmt: skip
    assert started.status == InstanceStatus.COMPLETED
    assert rules(db_session) == set()


def test_a_running_instance_whose_only_task_is_gone_is_stuck(db_session, started):
    (review,) = runtime.open_tasks(db_session, started.id)
    review.state = TaskState.CANCELLED
    for timer in db_session.scalars(select(Timer).where(Timer.instance_id == started.id)):
        timer.state = TaskState.CANCELLED
    db_session.flush()
    assert rules(db_session) == {("stuck", started.id), ("out_of_step", started.id)}


def test_a_task_decided_twice_is_reported(db_session, started, people, env_for):
    (review,) = runtime.open_tasks(db_session, started.id)
    tasks.complete(env_for(people["approver"]), review.id, {"decision": "approve"})
    audit.record(env_for(people["approver"]), started, "approve", task=review)
    db_session.flush()
    assert rules(db_session) == {("decided_twice", started.id)}


def test_a_due_timer_still_waiting_is_lost_and_a_second_fired_row_is_a_double_fire(
    db_session, waiting
):
    assert rules(db_session, NOW + DAY - timedelta(seconds=1)) == set()
    assert rules(db_session, NOW + DAY) == {("lost_timer", waiting.id)}
    (row,) = db_session.scalars(select(Timer).where(Timer.instance_id == waiting.id))
    for _ in range(2):
        db_session.add(Timer(instance_id=waiting.id, spiff_task_id=row.spiff_task_id,
                             task_name=row.task_name, due_at=row.due_at,
                             state=TaskState.COMPLETED, fired_at=NOW + DAY))  # fmt: skip
    db_session.flush()
    assert ("fired_twice", waiting.id) in rules(db_session)


def test_an_ended_instance_holding_an_open_task_is_stuck(db_session, started):
    started.status, started.ended_at = InstanceStatus.WITHDRAWN, NOW
    db_session.flush()
    found = rules(db_session)
    assert ("stuck", started.id) in found
    assert db_session.scalar(select(HumanTask.state).where(
        HumanTask.instance_id == started.id)) == TaskState.OPEN  # fmt: skip

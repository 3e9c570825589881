"""Two approvers deciding the same task at the same moment: exactly one wins, the other gets
StaleInstance (lost the version check) or TaskNotReady (saw the task already decided)."""

import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import NOW
from tests.workflows.conftest import BPMN_DIR, ENGINE_CONFIG
from workflows import instances, runtime, tasks
from workflows.audit import verify_chains
from workflows.context import Env
from workflows.deploy import deploy_directory
from workflows.errors import StaleInstance, TaskNotReady
from workflows.identity import Role, RoleGrant, User
from workflows.models import AuditEntry, HumanTask, InstanceStatus, TaskState

ROUNDS = 50


def _user(session, name: str, role: Role, department_id: int | None) -> int:
    user = User(username=name, display_name=name, password_hash="-")
    user.grants.append(RoleGrant(role=role, department_id=department_id))
    session.add(user)
    session.flush()
    return user.id


def _seed(engine) -> tuple[list[int], list[int]]:
    """Deploy, two department approvers, and ROUNDS requests waiting at dept_review.
    Returns (the approvers' ids, the open review tasks' ids); committed."""
    from ledger.context import Ctx
    from tests.conftest import TEST_CONFIG
    from tests.factories import Factories

    with Session(engine) as session, session.begin():
        deploy_directory(session, BPMN_DIR)
        make = Factories(Ctx(session=session, actor="test", now=NOW, config=TEST_CONFIG))
        dept = make.department()
        applicant_id = _user(session, "applicant", Role.APPLICANT, dept.id)
        approvers = [_user(session, f"approver{n}", Role.DEPT_APPROVER, dept.id) for n in (1, 2)]
        env = Env(session, session.get(User, applicant_id), NOW, ENGINE_CONFIG)
        person = make.person(department=dept)
        review_ids = []
        for n in range(ROUNDS):
            data = {"person_id": person.id, "reason": "入职"}
            instance = instances.start_instance(env, "approval", f"RACE-{n}", data, dept.id)
            (review,) = runtime.open_tasks(session, instance.id)
            review_ids.append(review.id)
    return approvers, review_ids


def _decide(engine, user_id: int, task_id: int, barrier: threading.Barrier, outcomes: list):
    try:
        with Session(engine) as session:
            barrier.wait(timeout=30)
            with session.begin():
                env = Env(session, session.get(User, user_id), NOW, ENGINE_CONFIG)
                tasks.complete(env, task_id, {"decision": "approve", "comment": f"u{user_id}"})
        outcomes.append(("won", user_id))
    except (StaleInstance, TaskNotReady) as exc:
        outcomes.append((type(exc).__name__, user_id))
    except Exception as exc:  # anything else is a failure of the test
        outcomes.append((repr(exc), user_id))


def test_two_approvers_at_once_exactly_one_wins(committed_engine):
    approvers, review_ids = _seed(committed_engine)
    losses = []
    for round_, task_id in enumerate(review_ids):
        barrier, outcomes = threading.Barrier(2), []
        threads = [
            threading.Thread(
                target=_decide, args=(committed_engine, uid, task_id, barrier, outcomes)
            )
            for uid in approvers
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        results = sorted(result for result, _uid in outcomes)
        assert len(outcomes) == 2, f"round {round_}: {outcomes}"
        assert results[1] == "won" and results[0] in ("StaleInstance", "TaskNotReady"), (
            f"round {round_}: {outcomes}"
        )
        losses.append(results[0])
        winner = next(uid for result, uid in outcomes if result == "won")

        with Session(committed_engine) as session:
            row = session.get(HumanTask, task_id)
            assert (row.state, row.completed_by_id) == (TaskState.COMPLETED, winner)
            instance = row.instance
            assert instance.status == InstanceStatus.RUNNING
            decided = session.scalars(
                select(HumanTask).where(
                    HumanTask.instance_id == instance.id, HumanTask.task_name == "dept_review"
                )
            ).all()
            assert [(r.id, r.state) for r in decided] == [(task_id, TaskState.COMPLETED)]
            offices = runtime.open_tasks(session, instance.id)
            assert [r.task_name for r in offices] == ["office_review"]
            approvals = session.scalar(
                select(func.count()).where(
                    AuditEntry.instance_id == instance.id, AuditEntry.action == "approve"
                )
            )
            assert approvals == 1
            audit_row = session.scalars(
                select(AuditEntry).where(
                    AuditEntry.instance_id == instance.id, AuditEntry.action == "approve"
                )
            ).one()
            assert (audit_row.actor_id, audit_row.comment) == (winner, f"u{winner}")
    with Session(committed_engine) as session:
        assert verify_chains(session) == []
    assert len(losses) == ROUNDS


def test_a_task_read_before_another_decides_it_is_not_decided_again(committed_engine):
    """The API and the inbox read the task row, then (checking who may act) its instance: a
    decision committed in between must not let the stale row through the version check."""
    if committed_engine.dialect.name != "postgresql":
        pytest.skip("SQLite lets no other writer commit while this reader's transaction is open")
    (first, second), (task_id, *_rest) = _seed(committed_engine)
    with Session(committed_engine) as late:
        row = late.get(HumanTask, task_id)
        with Session(committed_engine) as early, early.begin():
            env = Env(early, early.get(User, first), NOW, ENGINE_CONFIG)
            tasks.complete(env, task_id, {"decision": "approve"})
        assert row.instance  # read after the other's commit
        env = Env(late, late.get(User, second), NOW, ENGINE_CONFIG)
        with pytest.raises(TaskNotReady):
            tasks.complete(env, task_id, {"decision": "approve"})

"""Multi-instance user tasks: all-sign (会签, everyone must approve; one rejection ends it) and
any-sign (或签, the first decision wins and the other tasks are cancelled)."""

import pytest
from sqlalchemy import select

from workflows import instances, runtime, spiff, tasks
from workflows.errors import NotAllowed, TaskNotReady
from workflows.identity import Role
from workflows.models import AuditEntry, HumanTask, InstanceStatus, TaskState

APPROVE = {"decision": "approve"}
REJECT = {"decision": "reject", "comment": "材料不全"}


@pytest.fixture
def signers(people, make_user):
    """The three card-office users, in id order."""
    return [people["clerk"], people["clerk2"], make_user(Role.CARD_OFFICE, name="clerk3")]


def start(env_for, people, dept, process_id: str):
    applicant = env_for(people["applicant"])
    return instances.start_instance(applicant, process_id, f"{process_id}-1", {}, dept.id)


def end_events(env_for, people, instance) -> set[str]:
    """The end events the instance's workflow reached."""
    workflow = runtime.open_workflow(env_for(people["admin"]), instance)
    return {
        t.task_spec.bpmn_id
        for t in workflow.get_tasks(state=spiff.TaskState.COMPLETED)
        if t.task_spec.bpmn_id in ("approved", "rejected")
    }


def rows_of(session, instance) -> list[HumanTask]:
    query = select(HumanTask).where(HumanTask.instance_id == instance.id).order_by(HumanTask.id)
    return list(session.scalars(query))


@pytest.mark.parametrize("process_id", ["allsign", "anysign"])
def test_each_signer_gets_an_assigned_task(db_session, deployed, people, env_for, dept, signers,
                                           process_id):  # fmt: skip
    instance = start(env_for, people, dept, process_id)
    assert instance.status == InstanceStatus.RUNNING
    rows = runtime.open_tasks(db_session, instance.id)
    assert [row.assignee_id for row in rows] == [user.id for user in signers]
    assert {row.task_name for row in rows} == {"sign"}
    assert {row.candidate_role for row in rows} == {Role.CARD_OFFICE}
    assert len({row.spiff_task_id for row in rows}) == 3
    # An assigned task is its assignee's alone.
    with pytest.raises(NotAllowed):
        tasks.complete(env_for(signers[1]), rows[0].id, APPROVE)


def test_all_sign_completes_only_when_everyone_approved(
    db_session, deployed, people, env_for, dept, signers
):
    instance = start(env_for, people, dept, "allsign")
    rows = runtime.open_tasks(db_session, instance.id)
    for done, (user, row) in enumerate(zip(signers, rows, strict=True), start=1):
        tasks.complete(env_for(user), row.id, APPROVE)
        still_open = runtime.open_tasks(db_session, instance.id)
        if done < 3:
            assert instance.status == InstanceStatus.RUNNING
            assert [r.id for r in still_open] == [r.id for r in rows[done:]]
    assert instance.status == InstanceStatus.COMPLETED
    assert end_events(env_for, people, instance) == {"approved"}
    assert [(r.state, r.decision, r.completed_by_id) for r in rows_of(db_session, instance)] == [
        (TaskState.COMPLETED, "approve", user.id) for user in signers
    ]


def test_all_sign_ends_rejected_on_one_rejection(
    db_session, deployed, people, env_for, dept, signers
):
    instance = start(env_for, people, dept, "allsign")
    rows = runtime.open_tasks(db_session, instance.id)
    tasks.complete(env_for(signers[0]), rows[0].id, APPROVE)
    tasks.complete(env_for(signers[1]), rows[1].id, REJECT)
    assert instance.status == InstanceStatus.COMPLETED
    assert end_events(env_for, people, instance) == {"rejected"}
    states = [(r.state, r.decision) for r in rows_of(db_session, instance)]
    assert states == [
        (TaskState.COMPLETED, "approve"),
        (TaskState.COMPLETED, "reject"),
        (TaskState.CANCELLED, None),
    ]
    with pytest.raises(TaskNotReady):
        tasks.complete(env_for(signers[2]), rows[2].id, APPROVE)


@pytest.mark.parametrize(("first", "decision", "end"), [(1, APPROVE, "approved"),
                                                        (2, REJECT, "rejected")])  # fmt: skip
def test_any_sign_first_decision_wins(
    db_session, deployed, people, env_for, dept, signers, first, decision, end
):
    instance = start(env_for, people, dept, "anysign")
    rows = runtime.open_tasks(db_session, instance.id)
    tasks.complete(env_for(signers[first]), rows[first].id, decision)
    assert instance.status == InstanceStatus.COMPLETED
    assert end_events(env_for, people, instance) == {end}
    assert runtime.open_tasks(db_session, instance.id) == []
    states = {r.id: (r.state, r.decision) for r in rows_of(db_session, instance)}
    assert states == {
        row.id: (TaskState.COMPLETED, decision["decision"])
        if i == first
        else (TaskState.CANCELLED, None)
        for i, row in enumerate(rows)
    }
    others = [i for i in range(3) if i != first]
    for i in others:
        with pytest.raises(TaskNotReady):
            tasks.complete(env_for(signers[i]), rows[i].id, APPROVE)
    decisions = db_session.scalars(
        select(AuditEntry.action).where(
            AuditEntry.instance_id == instance.id, AuditEntry.human_task_id.is_not(None)
        )
    ).all()
    assert decisions == [decision["decision"]]

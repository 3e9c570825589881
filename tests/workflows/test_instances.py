"""Instance actions: start, withdraw (撤回), urge (催办), copy (抄送), comment, and the
administrator's suspend, resume and terminate."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import NOW
from tests.workflows import support
from workflows import audit, inbox, instances, notify, permissions, runtime, tasks
from workflows.errors import (
    FormInvalid,
    InvalidInput,
    NotAllowed,
    NotFound,
    TaskNotReady,
    UrgedTooOften,
    WrongInstanceState,
)
from workflows.identity import Role
from workflows.models import AuditEntry, InstanceStatus, ProcessInstance, TaskState


def open_names(session, instance) -> list[str]:
    return [row.task_name for row in runtime.open_tasks(session, instance.id)]


def inbox_of(session, user) -> list[str]:
    scope = inbox.scope_of(session, user, NOW.date())
    return [row.task_name for row in inbox.inbox_page(session, scope)]


def audit_actions(session, instance) -> list[str]:
    query = select(AuditEntry.action).where(AuditEntry.instance_id == instance.id)
    return list(session.scalars(query.order_by(AuditEntry.seq)))


def instance_count(session) -> int:
    return session.scalar(select(func.count()).select_from(ProcessInstance))


def decide(session, env, instance, decision="approve"):
    row = runtime.open_tasks(session, instance.id)[0]
    comment = "不同意" if decision == "reject" else ""
    return tasks.complete(env, row.id, {"decision": decision, "comment": comment})


def kinds(session, user) -> list[str]:
    return [n.kind for n in notify.unread(session, user.id)]


# --- start -------------------------------------------------------------------------------


def test_start_files_the_request_at_the_first_step(db_session, started, people, dept):
    assert started.status == InstanceStatus.RUNNING
    assert (started.started_by_id, started.department_id, started.started_at) == (
        people["applicant"].id, dept.id, NOW,
    )  # fmt: skip
    assert started.summary["requester"] == "applicant"
    row = runtime.open_tasks(db_session, started.id)[0]
    assert (row.task_name, row.candidate_role) == ("dept_review", Role.DEPT_APPROVER)
    assert row.candidate_department_id == dept.id
    assert audit_actions(db_session, started) == ["start"]
    assert audit.verify_chains(db_session, started.id) == []


def test_start_unknown_process_not_found(db_session, deployed, people, env_for, person, dept):
    with pytest.raises(NotFound):
        instances.start_instance(
            env_for(people["applicant"]), "no_such_process", "T-1",
            {"person_id": person.id, "reason": "入职"}, dept.id,
        )  # fmt: skip
    assert instance_count(db_session) == 0


@pytest.mark.parametrize(
    "data, field",
    [
        ({"reason": "入职"}, "person_id"),
        ({"person_id": "abc", "reason": "入职"}, "person_id"),
        ({"person_id": 1}, "reason"),
        ({"person_id": 1, "reason": "x"}, "reason"),
    ],
)
def test_start_invalid_form_refused(db_session, deployed, people, env_for, dept, data, field):
    with pytest.raises(FormInvalid) as caught:
        instances.start_instance(env_for(people["applicant"]), "approval", "T-1", data, dept.id)
    assert field in caught.value.errors
    assert instance_count(db_session) == 0


@pytest.mark.parametrize("key", ["T-1", ""])
def test_start_duplicate_or_empty_business_key_refused(db_session, started, people, env_for, key):
    data = {"person_id": 1, "reason": "再来一次"}
    with pytest.raises(InvalidInput):
        instances.start_instance(
            env_for(people["applicant"]), "approval", key, data, started.department_id
        )
    assert instance_count(db_session) == 1


def test_start_without_the_start_lanes_role_refused(
    db_session, deployed, people, make_user, make, env_for, person, dept
):
    elsewhere = make_user((Role.APPLICANT, make.department().id))
    data = {"person_id": person.id, "reason": "入职"}
    for user in (people["clerk"], people["approver"], elsewhere):
        with pytest.raises(NotAllowed):
            instances.start_instance(env_for(user), "approval", "T-1", data, dept.id)
    assert instance_count(db_session) == 0


# --- withdraw (撤回) ----------------------------------------------------------------------


def test_withdraw_undecided_request_cancels_its_tasks(db_session, started, people, env_for):
    row = runtime.open_tasks(db_session, started.id)[0]
    instances.withdraw(env_for(people["applicant"]), started.id, "不需要了")
    assert (started.status, started.ended_at) == (InstanceStatus.WITHDRAWN, NOW)
    assert row.state == TaskState.CANCELLED
    assert inbox_of(db_session, people["approver"]) == []
    assert audit_actions(db_session, started)[-1] == "withdraw"
    with pytest.raises(TaskNotReady):
        tasks.complete(env_for(people["approver"]), row.id, {"decision": "approve"})


def test_withdraw_returned_request_cancels_the_resubmission(db_session, started, people, env_for):
    row = runtime.open_tasks(db_session, started.id)[0]
    tasks.return_task(env_for(people["approver"]), row.id, "请更正")
    instances.withdraw(env_for(people["applicant"]), started.id)
    assert started.status == InstanceStatus.WITHDRAWN
    assert open_names(db_session, started) == []
    assert inbox_of(db_session, people["applicant"]) == []


@pytest.mark.parametrize("who", ["approver", "clerk", "admin"])
def test_withdraw_by_someone_else_refused(db_session, started, people, env_for, who):
    with pytest.raises(NotAllowed):
        instances.withdraw(env_for(people[who]), started.id)
    assert started.status == InstanceStatus.RUNNING
    assert open_names(db_session, started) == ["dept_review"]


def test_withdraw_after_an_engine_look_up_is_allowed(db_session, deployed, people, env_for, dept):
    # allsign runs a service task (find the signers) before its first user task: a look-up
    # that carries nothing out.
    applicant = env_for(people["applicant"])
    instance = instances.start_instance(applicant, "allsign", "A-1", {}, dept.id)
    assert open_names(db_session, instance) == ["sign", "sign"]
    instances.withdraw(applicant, instance.id)
    assert instance.status == InstanceStatus.WITHDRAWN
    assert open_names(db_session, instance) == []


@pytest.mark.parametrize("failures, status", [(0, "completed"), (1, "incident")])
def test_withdraw_after_the_card_was_issued_refused(
    db_session, started, people, env_for, failures, status
):
    support.FAILURES["issue_card"] = failures
    decide(db_session, env_for(people["approver"]), started)
    decide(db_session, env_for(people["clerk"]), started)
    assert started.status == status
    with pytest.raises(WrongInstanceState):
        instances.withdraw(env_for(people["applicant"]), started.id)
    assert started.status == status


# --- urge (催办) --------------------------------------------------------------------------


def test_urge_notifies_the_current_candidates(db_session, started, people, make_user, env_for):
    approver2 = make_user((Role.DEPT_APPROVER, started.department_id))
    notified = instances.urge(env_for(people["applicant"]), started.id)
    assert notified == sorted([people["approver"].id, approver2.id])
    assert "urge" in kinds(db_session, people["approver"])
    assert "urge" in kinds(db_session, approver2)
    assert "urge" not in kinds(db_session, people["clerk"])
    assert started.last_urged_at == NOW
    assert audit_actions(db_session, started)[-1] == "urge"


def test_urge_claimed_task_notifies_only_its_assignee(
    db_session, started, people, make_user, env_for
):
    approver2 = make_user((Role.DEPT_APPROVER, started.department_id))
    tasks.claim(env_for(approver2), runtime.open_tasks(db_session, started.id)[0].id)
    assert instances.urge(env_for(people["applicant"]), started.id) == [approver2.id]
    assert "urge" not in kinds(db_session, people["approver"])


@pytest.mark.parametrize(
    "later, allowed",
    [(timedelta(minutes=1), False), (timedelta(minutes=59), False), (timedelta(hours=1), True)],
)
def test_urge_again_within_an_hour_refused(db_session, started, people, env_for, later, allowed):
    instances.urge(env_for(people["applicant"]), started.id)
    again = env_for(people["applicant"], later=later)
    if allowed:
        assert instances.urge(again, started.id) == [people["approver"].id]
        assert started.last_urged_at == NOW + later
        assert kinds(db_session, people["approver"]).count("urge") == 2
    else:
        with pytest.raises(UrgedTooOften):
            instances.urge(again, started.id)
        assert started.last_urged_at == NOW
        assert kinds(db_session, people["approver"]).count("urge") == 1


def test_urge_by_someone_else_refused(db_session, started, people, env_for):
    with pytest.raises(NotAllowed):
        instances.urge(env_for(people["approver"]), started.id)
    assert started.last_urged_at is None


def test_urge_ended_request_refused(db_session, started, people, env_for):
    decide(db_session, env_for(people["approver"]), started, "reject")
    with pytest.raises(WrongInstanceState):
        instances.urge(env_for(people["applicant"]), started.id)


# --- copy (抄送) and comments ------------------------------------------------------------


def test_copy_lets_the_copied_user_view(db_session, started, people, make_user, env_for):
    reader = make_user(name="reader")
    assert not permissions.can_view(env_for(reader), started)
    instances.copy_to(env_for(people["applicant"]), started.id, [reader.id], "供参考")
    assert kinds(db_session, reader) == ["copy"]
    assert permissions.can_view(env_for(reader), started)
    entry = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "copy")).one()
    assert (entry.comment, entry.details) == ("供参考", {"to": [reader.id]})


def test_copy_to_unknown_or_inactive_user_refused(db_session, started, people, make_user, env_for):
    gone = make_user(name="gone")
    gone.active = False
    for ids in ([], [10**6], [people["clerk"].id, gone.id]):
        with pytest.raises(InvalidInput):
            instances.copy_to(env_for(people["applicant"]), started.id, ids)
    assert kinds(db_session, people["clerk"]) == []


def test_copy_by_someone_who_cannot_view_refused(db_session, started, people, make_user, env_for):
    outsider, reader = make_user(), make_user()
    with pytest.raises(NotAllowed):
        instances.copy_to(env_for(outsider), started.id, [reader.id])
    assert not permissions.can_view(env_for(reader), started)


def test_comment_recorded_in_the_audit_trail(db_session, started, people, env_for):
    instances.add_comment(env_for(people["approver"]), started.id, "  已电话核实  ")
    entry = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "comment")).one()
    assert (entry.comment, entry.actor_id) == ("已电话核实", people["approver"].id)
    assert audit.verify_chains(db_session, started.id) == []


@pytest.mark.parametrize("text", ["", "   ", "x" * 2001])
def test_comment_empty_or_too_long_refused(db_session, started, people, env_for, text):
    with pytest.raises(InvalidInput):
        instances.add_comment(env_for(people["applicant"]), started.id, text)
    assert audit_actions(db_session, started) == ["start"]


def test_comment_by_someone_who_cannot_view_refused(db_session, started, make_user, env_for):
    with pytest.raises(NotAllowed):
        instances.add_comment(env_for(make_user()), started.id, "路过")
    assert audit_actions(db_session, started) == ["start"]


# --- suspend / resume / terminate ---------------------------------------------------------


def test_suspend_takes_tasks_out_of_the_inbox_until_resumed(db_session, started, people, env_for):
    admin = env_for(people["admin"])
    row = runtime.open_tasks(db_session, started.id)[0]
    instances.suspend(admin, started.id, "核查中")
    assert (started.status, row.state) == (InstanceStatus.SUSPENDED, TaskState.SUSPENDED)
    assert inbox_of(db_session, people["approver"]) == []
    with pytest.raises(TaskNotReady):
        tasks.complete(env_for(people["approver"]), row.id, {"decision": "approve"})
    with pytest.raises(WrongInstanceState):
        instances.urge(env_for(people["applicant"]), started.id)
    instances.resume(admin, started.id)
    assert (started.status, row.state) == (InstanceStatus.RUNNING, TaskState.OPEN)
    assert inbox_of(db_session, people["approver"]) == ["dept_review"]
    tasks.complete(env_for(people["approver"]), row.id, {"decision": "approve"})
    assert open_names(db_session, started) == ["office_review"]
    assert audit_actions(db_session, started)[1:] == ["suspend", "resume", "approve"]


def test_resume_returned_request_is_returned_again(db_session, started, people, env_for):
    row = runtime.open_tasks(db_session, started.id)[0]
    tasks.return_task(env_for(people["approver"]), row.id, "请更正")
    instances.suspend(env_for(people["admin"]), started.id)
    assert inbox_of(db_session, people["applicant"]) == []
    instances.resume(env_for(people["admin"]), started.id)
    assert started.status == InstanceStatus.RETURNED
    assert inbox_of(db_session, people["applicant"]) == [tasks.SUBMITTER]


@pytest.mark.parametrize("suspended_first", [False, True])
def test_terminate_ends_the_request_and_cancels_tasks(
    db_session, started, people, env_for, suspended_first
):
    admin = env_for(people["admin"])
    row = runtime.open_tasks(db_session, started.id)[0]
    if suspended_first:
        instances.suspend(admin, started.id)
    instances.terminate(admin, started.id, "重复申请")
    assert (started.status, started.ended_at) == (InstanceStatus.TERMINATED, NOW)
    assert row.state == TaskState.CANCELLED
    assert inbox_of(db_session, people["approver"]) == []
    entry = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "terminate")).one()
    assert entry.comment == "重复申请"
    with pytest.raises(WrongInstanceState):
        instances.resume(admin, started.id)


@pytest.mark.parametrize("action", ["suspend", "resume", "terminate"])
@pytest.mark.parametrize("who", ["applicant", "approver", "clerk"])
def test_suspend_resume_terminate_by_non_admin_refused(
    db_session, started, people, env_for, action, who
):
    if action == "resume":
        instances.suspend(env_for(people["admin"]), started.id)
    status = started.status
    with pytest.raises(NotAllowed):
        getattr(instances, action)(env_for(people[who]), started.id)
    assert started.status == status


@pytest.mark.parametrize(
    "setup, action",
    [
        ("none", "resume"),  # not suspended
        ("suspend", "suspend"),  # twice
        ("terminate", "suspend"),
        ("terminate", "terminate"),
        ("withdraw", "terminate"),
    ],
)
def test_suspend_resume_terminate_in_wrong_state_refused(
    db_session, started, people, env_for, setup, action
):
    if setup == "withdraw":
        instances.withdraw(env_for(people["applicant"]), started.id)
    elif setup != "none":
        getattr(instances, setup)(env_for(people["admin"]), started.id)
    status, seq = started.status, started.audit_seq
    with pytest.raises(WrongInstanceState):
        getattr(instances, action)(env_for(people["admin"]), started.id)
    assert (started.status, started.audit_seq) == (status, seq)

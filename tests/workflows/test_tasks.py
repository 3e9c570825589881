"""Task actions: claim, unclaim, complete (approve / reject), return (退回) to the submitter or to
an earlier step, the applicant's resubmission, transfer (转交) and add a signer (加签).

The `approval` process: start → dept_review (dept_approver of the department) → office_review
(card_office) → issue card → done; a rejection at either review ends at a reject end event.
"""

import pytest
from sqlalchemy import func, select

from tests.conftest import NOW
from workflows import inbox, runtime, spiff, tasks
from workflows.errors import FormInvalid, InvalidInput, NotAllowed, TaskNotReady
from workflows.identity import Role
from workflows.models import AuditEntry, HumanTask, InstanceStatus, TaskKind, TaskState


@pytest.fixture
def more(people, make_user, make, dept):
    """A second approver of `dept`, an approver of another department and a plain user."""
    return {
        "approver2": make_user((Role.DEPT_APPROVER, dept.id), name="approver2"),
        "other_approver": make_user((Role.DEPT_APPROVER, make.department().id), name="other"),
        "nobody": make_user(name="nobody"),
    }


def open_rows(session, instance) -> list[HumanTask]:
    return runtime.open_tasks(session, instance.id)


def only_open(session, instance, name: str | None = None) -> HumanTask:
    """The instance's one open task (named `name`, if given)."""
    rows = open_rows(session, instance)
    assert len(rows) == 1, rows
    if name is not None:
        assert rows[0].task_name == name
    return rows[0]


def inbox_of(session, user) -> list[tuple[int, str]]:
    scope = inbox.scope_of(session, user, NOW.date())
    return [(row.instance_id, row.task_name) for row in inbox.inbox_page(session, scope)]


def actions(session, instance) -> list[str]:
    query = select(AuditEntry.action).where(AuditEntry.instance_id == instance.id)
    return list(session.scalars(query.order_by(AuditEntry.seq)))


def approve(env, row_id, comment=""):
    return tasks.complete(env, row_id, {"decision": "approve", "comment": comment})


# --- claim / unclaim ---------------------------------------------------------------------


def test_claim_assigns_the_task_to_the_claimer(db_session, started, people, more, env_for):
    row = only_open(db_session, started, "dept_review")
    assert (started.id, "dept_review") in inbox_of(db_session, more["approver2"])
    tasks.claim(env_for(people["approver"]), row.id)
    assert (row.assignee_id, row.claimed_at) == (people["approver"].id, NOW)
    assert inbox_of(db_session, people["approver"]) == [(started.id, "dept_review")]
    assert inbox_of(db_session, more["approver2"]) == []
    assert actions(db_session, started)[-1] == "claim"


def test_claim_already_claimed_task_refused(db_session, started, people, more, env_for):
    row = only_open(db_session, started)
    tasks.claim(env_for(people["approver"]), row.id)
    with pytest.raises(NotAllowed):
        tasks.claim(env_for(more["approver2"]), row.id)
    assert row.assignee_id == people["approver"].id


@pytest.mark.parametrize("who", ["clerk", "applicant", "other_approver", "nobody"])
def test_claim_by_non_candidate_refused(db_session, started, people, more, env_for, who):
    row = only_open(db_session, started)
    with pytest.raises(NotAllowed):
        tasks.claim(env_for({**people, **more}[who]), row.id)
    assert (row.assignee_id, row.claimed_at) == (None, None)
    assert actions(db_session, started) == ["start"]


def test_unclaim_gives_the_task_back_to_the_group(db_session, started, people, more, env_for):
    row = only_open(db_session, started)
    tasks.claim(env_for(people["approver"]), row.id)
    tasks.unclaim(env_for(people["approver"]), row.id)
    assert (row.assignee_id, row.claimed_at) == (None, None)
    assert inbox_of(db_session, more["approver2"]) == [(started.id, "dept_review")]
    assert actions(db_session, started)[-2:] == ["claim", "unclaim"]


def test_unclaim_someone_elses_claim_refused(db_session, started, people, more, env_for):
    row = only_open(db_session, started)
    tasks.claim(env_for(people["approver"]), row.id)
    with pytest.raises(NotAllowed):
        tasks.unclaim(env_for(more["approver2"]), row.id)
    assert row.assignee_id == people["approver"].id


def test_unclaim_unclaimed_task_refused(db_session, started, people, env_for):
    row = only_open(db_session, started)
    with pytest.raises(NotAllowed):
        tasks.unclaim(env_for(people["approver"]), row.id)


# --- complete ----------------------------------------------------------------------------


def test_complete_approve_moves_on_to_the_next_inbox(db_session, started, people, env_for):
    row = only_open(db_session, started)
    approve(env_for(people["approver"]), row.id, "同意")
    assert row.state == TaskState.COMPLETED
    assert (row.decision, row.completed_by_id, row.completed_at) == (
        "approve", people["approver"].id, NOW,
    )  # fmt: skip
    office = only_open(db_session, started, "office_review")
    assert (office.candidate_role, office.assignee_id) == (Role.CARD_OFFICE, None)
    assert inbox_of(db_session, people["clerk"]) == [(started.id, "office_review")]
    assert inbox_of(db_session, people["approver"]) == []
    entry = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "approve")).one()
    assert (entry.comment, entry.human_task_id, entry.actor_id) == (
        "同意", row.id, people["approver"].id,
    )  # fmt: skip


@pytest.mark.parametrize("step", ["dept_review", "office_review"])
def test_complete_reject_ends_the_instance_at_its_reject_end(
    db_session, started, people, env_for, step
):
    if step == "office_review":
        approve(env_for(people["approver"]), only_open(db_session, started).id)
    who = people["approver"] if step == "dept_review" else people["clerk"]
    row = only_open(db_session, started, step)
    tasks.complete(env_for(who), row.id, {"decision": "reject", "comment": "材料不全"})
    assert started.status == InstanceStatus.COMPLETED
    assert started.ended_at == NOW
    assert open_rows(db_session, started) == []
    workflow = runtime.open_workflow(env_for(who), started)
    ended = {t.task_spec.bpmn_id for t in workflow.get_tasks(state=spiff.TaskState.COMPLETED)}
    reject_end = "rejected" if step == "dept_review" else "office_rejected"
    assert reject_end in ended and "issue" not in ended and "done" not in ended
    entry = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "reject")).one()
    assert (entry.comment, entry.state_after) == ("材料不全", "completed")


@pytest.mark.parametrize(
    "data, field",
    [
        ({"decision": "maybe"}, "decision"),
        ({}, "decision"),
        ({"decision": "reject"}, "comment"),
        ({"decision": "reject", "comment": "   "}, "comment"),
        ({"decision": "approve", "comment": "x" * 1001}, "comment"),
    ],
)
def test_complete_invalid_form_changes_nothing(db_session, started, people, env_for, data, field):
    row = only_open(db_session, started)
    state, seq = started.state, started.audit_seq
    with pytest.raises(FormInvalid) as caught:
        tasks.complete(env_for(people["approver"]), row.id, data)
    assert field in caught.value.errors
    assert (row.state, row.decision, row.completed_by_id) == (TaskState.OPEN, None, None)
    assert (started.state, started.audit_seq, started.status) == (
        state, seq, InstanceStatus.RUNNING,
    )  # fmt: skip
    assert only_open(db_session, started, "dept_review") is row


#: Every task action, as (env, row) -> None; the second user acting is approver2.
ACTIONS = {
    "claim": lambda env, row: tasks.claim(env, row.id),
    "complete": lambda env, row: approve(env, row.id),
    "return": lambda env, row: tasks.return_task(env, row.id, "请补充材料"),
    "transfer": lambda env, row: tasks.transfer(env, row.id, env.user.id),
    "add_signer": lambda env, row: tasks.add_signer(
        env, row.id, row.completed_by_id or row.assignee_id, "before"
    ),
}


@pytest.mark.parametrize("act", ACTIONS)
def test_complete_then_any_action_on_the_task_is_not_ready(
    db_session, started, people, more, env_for, act
):
    row = only_open(db_session, started)
    approve(env_for(people["approver"]), row.id)
    seq = started.audit_seq
    with pytest.raises(TaskNotReady):
        ACTIONS[act](env_for(more["approver2"]), row)
    assert (row.state, started.audit_seq) == (TaskState.COMPLETED, seq)


@pytest.mark.parametrize("act", list(ACTIONS)[1:])
def test_complete_someone_elses_task_refused(db_session, started, people, more, env_for, act):
    row = only_open(db_session, started)
    tasks.claim(env_for(people["approver"]), row.id)
    seq = started.audit_seq
    with pytest.raises(NotAllowed):
        ACTIONS[act](env_for(more["approver2"]), row)
    assert (row.state, row.assignee_id) == (TaskState.OPEN, people["approver"].id)
    assert started.audit_seq == seq


# --- return (退回) and resubmission -------------------------------------------------------


def test_return_to_submitter_asks_for_the_start_form(db_session, started, people, env_for):
    row = only_open(db_session, started)
    tasks.return_task(env_for(people["approver"]), row.id, "  事由写得不清楚 ")
    assert started.status == InstanceStatus.RETURNED
    assert (row.state, row.decision) == (TaskState.COMPLETED, "return")
    resubmit = only_open(db_session, started, tasks.SUBMITTER)
    assert resubmit.kind == TaskKind.RESUBMIT
    assert (resubmit.assignee_id, resubmit.form) == (people["applicant"].id, "test_request")
    assert inbox_of(db_session, people["applicant"]) == [(started.id, tasks.SUBMITTER)]
    assert inbox_of(db_session, people["approver"]) == []
    entry = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "return")).one()
    assert (entry.comment, entry.state_after) == ("事由写得不清楚", "returned")


def test_return_resubmitted_with_corrected_data_starts_over(db_session, started, people, env_for):
    tasks.return_task(env_for(people["approver"]), only_open(db_session, started).id, "请更正")
    resubmit = only_open(db_session, started, tasks.SUBMITTER)
    person_id = _start_data(env_for, people, started)["person_id"]
    with pytest.raises(FormInvalid):
        tasks.complete(env_for(people["applicant"]), resubmit.id, {"person_id": person_id})
    assert started.status == InstanceStatus.RETURNED
    with pytest.raises(NotAllowed):
        tasks.complete(
            env_for(people["approver"]), resubmit.id, {"person_id": person_id, "reason": "更正"}
        )
    data = {"person_id": person_id, "reason": "更正后的事由"}
    tasks.complete(env_for(people["applicant"]), resubmit.id, data)
    assert (resubmit.state, resubmit.decision) == (TaskState.COMPLETED, "resubmit")
    assert started.status == InstanceStatus.RUNNING
    review = only_open(db_session, started, "dept_review")
    assert inbox_of(db_session, people["approver"]) == [(started.id, "dept_review")]
    workflow = runtime.open_workflow(env_for(people["approver"]), started)
    assert spiff.find_task(workflow, review.spiff_task_id).data["reason"] == "更正后的事由"
    approve(env_for(people["approver"]), review.id)
    assert only_open(db_session, started).task_name == "office_review"


def _start_data(env_for, people, instance) -> dict:
    workflow = runtime.open_workflow(env_for(people["applicant"]), instance)
    return spiff.start_task(workflow).data


def test_return_to_an_earlier_step_goes_to_its_decider(db_session, started, people, more, env_for):
    first = only_open(db_session, started)
    tasks.claim(env_for(more["approver2"]), first.id)
    approve(env_for(more["approver2"]), first.id)
    office = only_open(db_session, started, "office_review")
    tasks.return_task(env_for(people["clerk"]), office.id, "部门意见不明确", to="dept_review")
    assert started.status == InstanceStatus.RUNNING
    assert (office.state, office.decision) == (TaskState.COMPLETED, "return")
    again = only_open(db_session, started, "dept_review")
    assert again.id != first.id
    assert again.assignee_id == more["approver2"].id
    assert inbox_of(db_session, more["approver2"]) == [(started.id, "dept_review")]
    assert inbox_of(db_session, people["approver"]) == []
    approve(env_for(more["approver2"]), again.id)
    assert only_open(db_session, started).task_name == "office_review"


@pytest.mark.parametrize("to", ["office_review", "no_such_step"])
def test_return_to_a_step_not_yet_done_refused(db_session, started, people, env_for, to):
    row = only_open(db_session, started)
    with pytest.raises(InvalidInput):
        tasks.return_task(env_for(people["approver"]), row.id, "退回", to=to)
    assert (row.state, row.decision) == (TaskState.OPEN, None)
    assert started.status == InstanceStatus.RUNNING
    assert only_open(db_session, started) is row


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_return_without_a_reason_refused(db_session, started, people, env_for, reason):
    row = only_open(db_session, started)
    with pytest.raises(InvalidInput):
        tasks.return_task(env_for(people["approver"]), row.id, reason)
    assert (row.state, started.status) == (TaskState.OPEN, InstanceStatus.RUNNING)
    count = select(func.count()).select_from(HumanTask).where(HumanTask.kind == TaskKind.RESUBMIT)
    assert db_session.scalar(count) == 0


# --- transfer (转交) ----------------------------------------------------------------------


def test_transfer_to_a_role_holder(db_session, started, people, more, env_for):
    row = only_open(db_session, started)
    tasks.transfer(env_for(people["approver"]), row.id, more["approver2"].id, "我出差")
    assert row.assignee_id == more["approver2"].id
    assert inbox_of(db_session, more["approver2"]) == [(started.id, "dept_review")]
    assert inbox_of(db_session, people["approver"]) == []
    with pytest.raises(NotAllowed):
        approve(env_for(people["approver"]), row.id)
    approve(env_for(more["approver2"]), row.id)
    assert row.completed_by_id == more["approver2"].id


@pytest.mark.parametrize("to", ["clerk", "other_approver", "nobody"])
def test_transfer_to_someone_without_the_role_refused(
    db_session, started, people, more, env_for, to
):
    row = only_open(db_session, started)
    with pytest.raises(NotAllowed):
        tasks.transfer(env_for(people["approver"]), row.id, {**people, **more}[to].id)
    assert (row.assignee_id, row.state) == (None, TaskState.OPEN)
    assert actions(db_session, started) == ["start"]


# --- add signer (加签) --------------------------------------------------------------------


def test_add_signer_before_then_the_task_comes_back(db_session, started, people, more, env_for):
    row = only_open(db_session, started)
    signer = more["nobody"]
    tasks.add_signer(env_for(people["approver"]), row.id, signer.id, "before")
    assert (row.assignee_id, row.return_to_id) == (signer.id, people["approver"].id)
    assert inbox_of(db_session, signer) == [(started.id, "dept_review")]
    with pytest.raises(NotAllowed):
        approve(env_for(people["approver"]), row.id)
    approve(env_for(signer), row.id, "我同意")
    assert (row.state, row.assignee_id, row.return_to_id) == (
        TaskState.OPEN, people["approver"].id, None,
    )  # fmt: skip
    assert only_open(db_session, started, "dept_review") is row
    approve(env_for(people["approver"]), row.id)
    assert row.completed_by_id == people["approver"].id
    assert only_open(db_session, started).task_name == "office_review"
    assert actions(db_session, started)[1:] == ["add_signer_before", "sign", "approve"]


def test_add_signer_before_whose_signer_rejects_rejects_the_step(
    db_session, started, people, more, env_for
):
    row = only_open(db_session, started)
    tasks.add_signer(env_for(people["approver"]), row.id, more["nobody"].id, "before")
    tasks.complete(env_for(more["nobody"]), row.id, {"decision": "reject", "comment": "不同意"})
    assert (row.state, row.decision, row.completed_by_id) == (
        TaskState.COMPLETED, "reject", more["nobody"].id,
    )  # fmt: skip
    assert started.status == InstanceStatus.COMPLETED
    assert open_rows(db_session, started) == []


def test_add_signer_after_the_signer_completes_the_step(db_session, started, people, more, env_for):
    row = only_open(db_session, started)
    data = {"decision": "approve", "comment": "我先同意"}
    tasks.add_signer(env_for(people["approver"]), row.id, more["nobody"].id, "after", data)
    assert (row.state, row.assignee_id, row.return_to_id) == (
        TaskState.OPEN, more["nobody"].id, None,
    )  # fmt: skip
    entry = db_session.scalars(
        select(AuditEntry).where(AuditEntry.action == "add_signer_after")
    ).one()
    assert entry.details["data"]["decision"] == "approve"
    assert entry.comment == "我先同意"
    approve(env_for(more["nobody"]), row.id)
    assert (row.state, row.completed_by_id) == (TaskState.COMPLETED, more["nobody"].id)
    assert only_open(db_session, started).task_name == "office_review"


@pytest.mark.parametrize(
    "signer, position, data, error",
    [
        ("approver", "before", None, InvalidInput),  # oneself
        ("nobody", "middle", None, InvalidInput),
        ("nobody", "after", {"decision": "reject", "comment": "不行"}, InvalidInput),
        ("nobody", "after", {"decision": "maybe"}, FormInvalid),
        ("nobody", "after", None, FormInvalid),
    ],
)
def test_add_signer_invalid_refused(
    db_session, started, people, more, env_for, signer, position, data, error
):
    row = only_open(db_session, started)
    who = {**people, **more}[signer]
    with pytest.raises(error):
        tasks.add_signer(env_for(people["approver"]), row.id, who.id, position, data)
    assert (row.assignee_id, row.return_to_id, row.state) == (None, None, TaskState.OPEN)
    assert actions(db_session, started) == ["start"]

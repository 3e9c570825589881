"""Task actions an approver knows from DingTalk, Feishu or Camunda's Tasklist: claim and
unclaim, complete (approve or reject), return (退回), transfer (转交), add a signer (加签),
and the applicant's resubmission after a return. Each checks who may act, appends to the
audit trail, and only flushes."""

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from workflows import audit, permissions, runtime, spiff
from workflows.context import Env
from workflows.errors import InvalidInput, NotAllowed, NotFound, TaskNotReady
from workflows.formdata import validated
from workflows.models import (
    HumanTask,
    InstanceStatus,
    ProcessInstance,
    TaskKind,
    TaskState,
    User,
)
from workflows.notify import notify
from workflows.registry import is_inert
from workflows.runtime import open_workflow, require_status, run_engine, save

SUBMITTER = "submitter"
_STATE_ZH = {
    TaskState.COMPLETED: "完成",
    TaskState.CANCELLED: "取消",
    TaskState.SUSPENDED: "挂起",
}


def get_open_task(env: Env, task_id: int) -> tuple[HumanTask, ProcessInstance]:
    """The open task and its instance, or NotFound / TaskNotReady.

    Both are read again in one statement, whatever the session holds: a caller that read the
    row earlier (checking who may act) must not decide a task another user decided since, on
    a stale row and the instance's new version counter."""
    row = env.session.get(
        HumanTask, task_id, options=[joinedload(HumanTask.instance)], populate_existing=True
    )
    if row is None:
        raise NotFound(what_zh="任务", what_en="task", key=task_id)
    if row.state != TaskState.OPEN:
        raise TaskNotReady(title=row.title, state=row.state.value, state_zh=_STATE_ZH[row.state])
    return row, row.instance


def claim(env: Env, task_id: int) -> HumanTask:
    """Take a group task as one's own (a substitute claims it for the absent user, so that it
    stays theirs when they are back)."""
    row, instance = get_open_task(env, task_id)
    if row.assignee_id is not None:
        raise NotAllowed(reason_zh="任务已被他人认领", reason_en="the task is already claimed")
    behalf = permissions.acting_for(env, row)
    row.assignee_id, row.claimed_at = behalf or env.user.id, env.now
    audit.record(env, instance, "claim", task=row, on_behalf_of_id=behalf)
    runtime.flush(env, instance)
    return row


def unclaim(env: Env, task_id: int) -> HumanTask:
    """Give a claimed task back to the group (not one assigned by the process or an added
    signature)."""
    row, instance = get_open_task(env, task_id)
    if row.assignee_id is None or row.claimed_at is None:
        raise NotAllowed(reason_zh="只能退回自己认领的任务", reason_en="not a task you claimed")
    behalf = permissions.acting_for(env, row)
    row.assignee_id, row.claimed_at = None, None
    audit.record(env, instance, "unclaim", task=row, on_behalf_of_id=behalf)
    runtime.flush(env, instance)
    return row


def complete(env: Env, task_id: int, data: dict | None = None) -> HumanTask:
    """Decide the task with its form's data (approve or reject with a comment, or the
    applicant's corrected start form after a return)."""
    row, instance = get_open_task(env, task_id)
    behalf = permissions.acting_for(env, row)
    form_data = validated(row.form, data, env.today)
    if row.kind == TaskKind.RESUBMIT:
        return _resubmit(env, row, instance, form_data, behalf)
    require_status(instance, (InstanceStatus.RUNNING,), "办理", "acted on")
    if row.return_to_id is not None and form_data.get("decision") != "reject":
        return _back_to_signer(env, row, instance, form_data, behalf)
    workflow = open_workflow(env, instance)
    before = spiff.status_text(workflow)
    task = spiff.find_task(workflow, row.spiff_task_id)
    _one_vote_each(env, task, {env.user.id, behalf}, holding=False)
    spiff.complete_user_task(task, form_data)
    _close(env, row, behalf, form_data.get("decision"))
    run_engine(env, instance, workflow)
    action = form_data.get("decision") or "complete"
    # Recorded before the save, so that one flush writes the instance once and the
    # notifications in one statement.
    audit.record(
        env, instance, action, task=row, comment=form_data.get("comment"), before=before,
        after=_after(instance, workflow), on_behalf_of_id=behalf, details={"data": form_data},
    )  # fmt: skip
    _tell_applicant(env, instance, row, action)
    save(env, instance, workflow)
    return row


def _close(env: Env, row: HumanTask, behalf: int | None, decision: str | None) -> None:
    row.state, row.completed_at = TaskState.COMPLETED, env.now
    row.completed_by_id, row.on_behalf_of_id, row.decision = env.user.id, behalf, decision


def _after(instance: ProcessInstance, workflow) -> str:
    if instance.status != InstanceStatus.RUNNING:
        return instance.status.value
    return spiff.status_text(workflow)


def _tell_applicant(env: Env, instance: ProcessInstance, row: HumanTask, action: str) -> None:
    verb_zh = {"approve": "同意", "reject": "驳回"}.get(action, "办理")
    notify(
        env, [instance.started_by_id], instance, "decision",
        f"{env.user.display_name} 已{verb_zh}“{row.title}”：{instance.business_key}",
        f"{env.user.display_name} did '{action}' on '{row.title}': {instance.business_key}",
    )  # fmt: skip


def _back_to_signer(env, row, instance, form_data, behalf) -> HumanTask:
    """加签 before: the added signer approved; the task goes back to who added them."""
    row.assignee_id, row.return_to_id = row.return_to_id, None
    audit.record(
        env, instance, "sign", task=row, comment=form_data.get("comment"),
        on_behalf_of_id=behalf, details={"data": form_data, "back_to": row.assignee_id},
    )  # fmt: skip
    notify(
        env, [row.assignee_id], instance, "new_task",
        f"加签人已同意，请处理“{row.title}”：{instance.business_key}",
        f"The added signer approved; '{row.title}' is back with you: {instance.business_key}",
    )  # fmt: skip
    runtime.flush(env, instance)
    return row


def return_task(env: Env, task_id: int, reason: str, to: str = SUBMITTER) -> HumanTask:
    """退回: send the request back to the applicant (to correct and resubmit) or to an earlier
    user task, which goes to the person who decided it then."""
    row, instance = get_open_task(env, task_id)
    behalf = permissions.acting_for(env, row)
    require_status(instance, (InstanceStatus.RUNNING,), "退回", "returned")
    if not reason or not reason.strip():
        raise InvalidInput(reason_zh="退回须说明理由", reason_en="a return needs a reason")
    workflow = open_workflow(env, instance)
    before = spiff.status_text(workflow)
    earlier = None if to == SUBMITTER else _earlier_task(workflow, to)  # refused before changes
    _refuse_undoing(earlier or spiff.start_task(workflow))
    _close(env, row, behalf, "return")
    if earlier is None:
        _return_to_submitter(env, instance, workflow)
    else:
        _return_to_task(env, instance, workflow, earlier)
    audit.record(
        env, instance, "return", task=row, comment=reason.strip(), before=before,
        after=_after(instance, workflow), on_behalf_of_id=behalf, details={"to": to},
    )  # fmt: skip
    people = [instance.started_by_id] if to == SUBMITTER else []
    people += [t.assignee_id for t in runtime.open_tasks(env.session, instance.id)]
    notify(
        env, people, instance, "return",
        f"申请 {instance.business_key} 被退回：{reason.strip()}",
        f"Request {instance.business_key} was returned: {reason.strip()}",
    )  # fmt: skip
    return row


def _refuse_undoing(target: spiff.Task) -> None:
    """A return replays the process from `target`: refused if an action was carried out
    since (it would run twice, and a withdrawal would no longer see it)."""
    if spiff.carried_out_actions(target, is_inert):
        raise NotAllowed(
            reason_zh="此后已自动办理业务，不能退回到该步骤",
            reason_en="an action was carried out after that step; it cannot be returned to",
        )


def _return_to_submitter(env: Env, instance: ProcessInstance, workflow) -> None:
    start = spiff.start_task(workflow)
    workflow.reset_from_task_id(start.id)
    instance.status = InstanceStatus.RETURNED
    save(env, instance, workflow)
    env.session.add(
        HumanTask(
            instance_id=instance.id,
            kind=TaskKind.RESUBMIT,
            task_name=SUBMITTER,
            title="修改后重新提交",
            assignee_id=instance.started_by_id,
            form=instance.definition.start_form,
            created_at=env.now,
            **runtime.summary_fields(instance),
        )
    )
    runtime.flush(env, instance)


def _earlier_task(workflow, name: str) -> spiff.Task:
    """The last completed user task named `name`, or InvalidInput."""
    earlier = [t for t in spiff.completed_user_tasks(workflow) if t.task_spec.bpmn_id == name]
    if not earlier:
        raise InvalidInput(
            reason_zh=f"“{name}”不是已办理的步骤", reason_en=f"{name!r} is not an earlier step"
        )
    return earlier[-1]


def _return_to_task(env: Env, instance: ProcessInstance, workflow, earlier: spiff.Task) -> None:
    name = earlier.task_spec.bpmn_id
    workflow.reset_from_task_id(earlier.id)
    run_engine(env, instance, workflow)
    save(env, instance, workflow, assign={name: _last_decider(env, instance, name)})


def _last_decider(env: Env, instance: ProcessInstance, name: str) -> int | None:
    query = (
        select(HumanTask.completed_by_id, HumanTask.on_behalf_of_id)
        .where(
            HumanTask.instance_id == instance.id,
            HumanTask.task_name == name,
            HumanTask.state == TaskState.COMPLETED,
        )
        .order_by(HumanTask.completed_at.desc(), HumanTask.id.desc())
        .limit(1)
    )
    found = env.session.execute(query).first()
    return (found.on_behalf_of_id or found.completed_by_id) if found else None


def _resubmit(env: Env, row: HumanTask, instance: ProcessInstance, form_data: dict, behalf):
    """The applicant's corrected start form: the process starts over from its start event."""
    require_status(instance, (InstanceStatus.RETURNED,), "重新提交", "resubmitted")
    workflow = open_workflow(env, instance)
    start = spiff.start_task(workflow)
    start.data.update(form_data)
    _close(env, row, behalf, "resubmit")
    instance.status = InstanceStatus.RUNNING
    run_engine(env, instance, workflow)
    save(env, instance, workflow)
    audit.record(
        env, instance, "resubmit", task=row, before="returned", after=_after(instance, workflow),
        on_behalf_of_id=behalf, details={"data": form_data},
    )  # fmt: skip
    return row


def transfer(env: Env, task_id: int, to_user_id: int, comment: str = "") -> HumanTask:
    """转交: hand the task to another person who holds its role."""
    row, instance = get_open_task(env, task_id)
    behalf = permissions.acting_for(env, row)
    target = _active_user(env, to_user_id)
    if row.candidate_role is None or not target.acts_for(
        row.candidate_role, row.candidate_department_id
    ):
        raise NotAllowed(
            reason_zh=f"{target.display_name} 没有处理此任务的角色",
            reason_en=f"{target.display_name} does not hold this task's role",
        )
    workflow = open_workflow(env, instance)
    _one_vote_each(env, spiff.find_task(workflow, row.spiff_task_id), {target.id}, holding=True)
    row.assignee_id, row.claimed_at, row.return_to_id = target.id, env.now, None
    audit.record(
        env, instance, "transfer", task=row, comment=comment, on_behalf_of_id=behalf,
        details={"to": target.id},
    )  # fmt: skip
    _tell(env, target, instance, row, "转交给您", "was transferred to you")
    runtime.flush(env, instance)
    return row


def add_signer(
    env: Env, task_id: int, signer_id: int, position: str, data: dict | None = None
) -> HumanTask:
    """加签: `before` — the signer decides first, then the task comes back to me; `after` —
    I approve now (with the form's data) and the signer's decision completes the step."""
    row, instance = get_open_task(env, task_id)
    behalf = permissions.acting_for(env, row)
    require_status(instance, (InstanceStatus.RUNNING,), "加签", "given another signer")
    signer = _active_user(env, signer_id)
    if signer.id == env.user.id or position not in ("before", "after"):
        raise InvalidInput(reason_zh="加签人或加签方式无效", reason_en="invalid signer or position")
    details = {"signer": signer.id, "position": position}
    if position == "before":
        row.return_to_id = row.assignee_id or env.user.id
    else:
        details["data"] = form_data = validated(row.form, data, env.today)
        if form_data.get("decision") == "reject":
            raise InvalidInput(reason_zh="驳回无需加签", reason_en="a rejection needs no signer")
    row.assignee_id, row.claimed_at = signer.id, None  # the signer cannot unclaim it
    audit.record(
        env, instance, f"add_signer_{position}", task=row, on_behalf_of_id=behalf,
        comment=(data or {}).get("comment"), details=details,
    )  # fmt: skip
    _tell(env, signer, instance, row, "请您加签", "needs your signature")
    runtime.flush(env, instance)
    return row


def _one_vote_each(env: Env, task: spiff.Task, people: set, holding: bool) -> None:
    """In an all-sign or any-sign step each person has one vote: refuse if one of `people`
    decided another instance of the step (or, with `holding`, holds one)."""
    siblings = [str(t.id) for t in spiff.multi_instance_siblings(task)]
    people = people - {None}
    if not siblings:
        return
    rows = env.session.scalars(select(HumanTask).where(HumanTask.spiff_task_id.in_(siblings)))
    for other in rows:
        decided = other.state == TaskState.COMPLETED and (
            other.completed_by_id in people or other.on_behalf_of_id in people
        )
        held = holding and other.state == TaskState.OPEN and other.assignee_id in people
        if decided or held:
            raise NotAllowed(
                reason_zh="会签/或签中每人只有一票", reason_en="one vote per person in this step"
            )


def _active_user(env: Env, user_id: int) -> User:
    user = env.session.get(User, user_id)
    if user is None or not user.active:
        raise NotFound(what_zh="用户", what_en="user", key=user_id)
    return user


def _tell(env: Env, user: User, instance, row: HumanTask, zh: str, en: str) -> None:
    notify(
        env, [user.id], instance, "new_task",
        f"“{row.title}”{zh}：{instance.business_key}",
        f"'{row.title}' {en}: {instance.business_key}",
    )  # fmt: skip

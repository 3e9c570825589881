"""Loading, advancing and saving one instance, and keeping the human-task and timer tables
in step with its workflow. Every operation in `instances` and `tasks` goes through here.

Saving is `UPDATE ... WHERE version = :seen` (SQLAlchemy's version counter): a writer that
lost a race gets StaleInstance and its whole transaction rolls back.
"""

import json
from datetime import UTC

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from workflows import audit, identity, spiff
from workflows.context import Env
from workflows.errors import InvalidInput, NotFound, StaleInstance, WrongInstanceState
from workflows.models import (
    ENDED,
    HumanTask,
    Incident,
    IncidentState,
    InstanceStatus,
    ProcessInstance,
    TaskKind,
    TaskState,
    Timer,
)
from workflows.notify import drop_mail_since, notify, queued_mail
from workflows.registry import get_action

STATUS_ZH = {
    InstanceStatus.RUNNING: "审批中",
    InstanceStatus.RETURNED: "已退回",
    InstanceStatus.SUSPENDED: "已挂起",
    InstanceStatus.INCIDENT: "自动处理失败",
    InstanceStatus.COMPLETED: "已办结",
    InstanceStatus.WITHDRAWN: "已撤回",
    InstanceStatus.TERMINATED: "已终止",
}


def get_instance(session: Session, instance_id: int) -> ProcessInstance:
    """The instance, or NotFound."""
    instance = session.get(ProcessInstance, instance_id)
    if instance is None:
        raise NotFound(what_zh="申请", what_en="request", key=instance_id)
    return instance


def require_status(instance: ProcessInstance, allowed, action_zh: str, action_en: str) -> None:
    """WrongInstanceState unless the instance's status is one of `allowed`."""
    if instance.status not in allowed:
        raise WrongInstanceState(
            business_key=instance.business_key,
            status=instance.status.value,
            status_zh=STATUS_ZH[instance.status],
            action_zh=action_zh,
            action_en=action_en,
        )


def open_workflow(env: Env, instance: ProcessInstance) -> spiff.BpmnWorkflow:
    """The instance's workflow (`run_engine` gives it the dispatcher of service actions)."""
    definition = instance.definition
    specs = spiff.load_specs(definition)
    return spiff.load_workflow(instance.state, specs, spiff.CardOfficeScriptEngine())


class _Failure(Exception):
    """A service action raised; carries the action's name and the task."""

    def __init__(self, action: str, task, cause: BaseException):
        super().__init__(f"{action}: {cause}")
        self.action, self.task, self.cause = action, task, cause


def _dispatcher(env: Env):
    def dispatch(name: str, params: dict, task) -> str:
        fn = get_action(name)
        mark = queued_mail(env.session)
        try:
            if fn is None:
                raise LookupError(f"no service action is registered as {name!r}")
            # The action's writes, and mail it queued, go if it fails; its result must
            # serialize before they are kept.
            with env.session.begin_nested():
                return json.dumps(fn(env, **params))
        except Exception as exc:
            drop_mail_since(env.session, mark)
            if isinstance(exc, OperationalError):
                raise
            raise _Failure(name, task, exc) from exc

    return dispatch


def run_engine(env: Env, instance: ProcessInstance, workflow) -> Incident | None:
    """Run engine steps until people or time must act. A failing step leaves an incident
    (or counts one more attempt on the open one) instead of raising."""
    workflow.script_engine.dispatch = _dispatcher(env)
    try:
        spiff.advance(workflow)
    except Exception as exc:  # any failing step, a script as much as a ledger action
        if _in_chain(exc, OperationalError):
            raise  # a deadlock or a lost connection: the request fails and may be retried
        return _record_incident(env, instance, exc)
    return None


def _record_incident(env: Env, instance: ProcessInstance, exc: Exception) -> Incident:
    failure = _in_chain(exc, _Failure)
    cause = failure.cause if failure else exc
    task = failure.task if failure else getattr(exc, "task", None)
    error = (
        cause.message("zh") + " / " + cause.message("en")
        if hasattr(cause, "message")
        else (f"{type(cause).__name__}: {cause}")
    )
    incident = open_incident_of(env.session, instance.id)
    if incident is None:
        incident = Incident(instance_id=instance.id, created_at=env.now)
        env.session.add(incident)
    else:
        incident.attempts += 1
    incident.spiff_task_id = str(task.id) if task is not None else ""
    incident.task_name = task.task_spec.bpmn_id if task is not None else "?"
    incident.action = failure.action if failure else None
    incident.error = error[:4000]
    incident.updated_at = env.now
    before, instance.status = instance.status.value, InstanceStatus.INCIDENT
    audit.record(
        env, instance, "incident", comment=incident.error, before=before, after="incident",
        details={"task": incident.task_name, "action": incident.action,
                 "attempts": incident.attempts},
    )  # fmt: skip
    return incident


def _in_chain(exc: BaseException, kind: type):
    """The first exception of `kind` among `exc` and its causes (SpiffWorkflow may wrap)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, kind):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def open_incident_of(session: Session, instance_id: int) -> Incident | None:
    """The instance's open incident, if any."""
    query = select(Incident).where(
        Incident.instance_id == instance_id, Incident.state == IncidentState.OPEN
    )
    return session.scalar(query)


def save(env: Env, instance: ProcessInstance, workflow, assign: dict | None = None) -> None:
    """Store the workflow, bring tasks and timers in step, and flush under the version check."""
    instance.state = spiff.save_workflow(workflow)
    instance.serializer_version = spiff.SERIALIZER_VERSION
    instance.updated_at = env.now
    if workflow.is_completed() and instance.status == InstanceStatus.RUNNING:
        instance.status, instance.ended_at = InstanceStatus.COMPLETED, env.now
    with env.session.no_autoflush:
        live = instance.status in (InstanceStatus.RUNNING, InstanceStatus.INCIDENT)
        sync_tasks(env, instance, workflow if live else None, assign or {})
        sync_timers(env, instance, workflow, ended=instance.status in ENDED)
    flush(env, instance)


def flush(env: Env, instance: ProcessInstance) -> None:
    """Flush; a lost race on the instance becomes StaleInstance, whether the version check or
    the audit trail's unique (instance, seq) caught it first. The business key is read first:
    a failed flush rolls the session back, which expires the instance."""
    business_key = instance.business_key
    try:
        env.session.flush()
    except StaleDataError:
        raise StaleInstance(business_key=business_key) from None
    except IntegrityError as exc:
        if "uq_process_instances_key" in str(exc.orig):  # filed twice at once
            raise key_taken(business_key) from None
        if "uq_audit_entries_seq" not in str(exc.orig):
            raise
        raise StaleInstance(business_key=business_key) from None


def key_taken(business_key: str) -> InvalidInput:
    """The error for a business key that is empty or already used by the process."""
    return InvalidInput(
        reason_zh=f"业务编号 {business_key} 为空或已被使用",
        reason_en=f"business key {business_key!r} is empty or taken",
    )


def open_tasks(
    session: Session, instance_id: int, kind: TaskKind | None = None, suspended: bool = False
) -> list[HumanTask]:
    """The instance's open human tasks (and suspended ones, if asked). Rows closed in this
    session but not yet flushed (`save` queries without autoflush) are left out."""
    states = (TaskState.OPEN, TaskState.SUSPENDED) if suspended else (TaskState.OPEN,)
    query = select(HumanTask).where(
        HumanTask.instance_id == instance_id, HumanTask.state.in_(states)
    )
    if kind is not None:
        query = query.where(HumanTask.kind == kind)
    return [row for row in session.scalars(query.order_by(HumanTask.id)) if row.state in states]


def sync_tasks(env: Env, instance: ProcessInstance, workflow, assign: dict) -> list[HumanTask]:
    """Open a row for each new ready user task, cancel rows whose task is gone; with no
    workflow, cancel them all. Returns the new rows."""
    if workflow is None:
        for row in open_tasks(env.session, instance.id, suspended=True):
            row.state, row.completed_at = TaskState.CANCELLED, env.now
        return []
    ready = {i.spiff_task_id: i for i in spiff.ready_user_tasks(workflow)}
    rows = open_tasks(env.session, instance.id, TaskKind.TASK)
    for row in rows:
        if row.spiff_task_id not in ready:
            row.state, row.completed_at = TaskState.CANCELLED, env.now
    known = {row.spiff_task_id for row in rows}
    new = [_new_row(env, instance, info, assign) for key, info in ready.items() if key not in known]
    env.session.add_all(new)
    for row in new:
        _tell_new_task(env, instance, row)
    return new


def _new_row(env: Env, instance: ProcessInstance, info: spiff.UserTaskInfo, assign) -> HumanTask:
    props = info.properties
    department = info.data.get(props.get("department", "department_id"))
    assignee = assign.get(info.name) or _user_id(info.data.get(props.get("assignee", "")))
    if assignee is None and info.mi_input_item:
        assignee = _user_id(info.data.get(info.mi_input_item))
    return HumanTask(
        instance_id=instance.id,
        spiff_task_id=info.spiff_task_id,
        kind=TaskKind.TASK,
        task_name=info.name,
        title=info.title,
        lane=info.lane,
        candidate_role=instance.definition.lanes.get(info.name),
        candidate_department_id=department if isinstance(department, int) else None,
        assignee_id=assignee,
        form=props.get("form"),
        due_at=info.due_at,
        created_at=env.now,
        **summary_fields(instance),
    )


def summary_fields(instance: ProcessInstance) -> dict:
    """The instance's fields that task rows copy for lists."""
    return {
        "process_id": instance.process_id,
        "business_key": instance.business_key,
        "instance_title": instance.title,
        "requester_name": instance.summary.get("requester", ""),
        "department_name": instance.summary.get("department"),
    }


def _user_id(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def holders(session: Session, row: HumanTask) -> list[int]:
    """Who may act on the task now: its assignee, or every user holding its role."""
    if row.assignee_id is not None:
        return [row.assignee_id]
    if row.candidate_role is None:
        return []
    return identity.user_ids_with_role(session, row.candidate_role, row.candidate_department_id)


def current_holders(session: Session, instance_id: int) -> list[int]:
    """Who holds the instance now: for each open task, its `holders`, once each."""
    rows = open_tasks(session, instance_id)
    return sorted({uid for row in rows for uid in holders(session, row)})


def _tell_new_task(env: Env, instance: ProcessInstance, row: HumanTask) -> None:
    users = holders(env.session, row)
    notify(
        env, users, instance, "new_task",
        f"待办：{instance.title}（{instance.business_key}）“{row.title}”",
        f"New task: {instance.title} ({instance.business_key}) '{row.title}'",
    )  # fmt: skip


def sync_timers(env: Env, instance: ProcessInstance, workflow, ended: bool) -> None:
    """Record each waiting timer with its due time; close the others, as fired if their
    timer event completed and as cancelled if it was cancelled or reset away."""
    waiting = {} if ended else {
        key: (name, due) for key, name, due in spiff.waiting_timers(workflow)
    }  # fmt: skip
    if not waiting and instance.next_timer_at is None:
        return
    rows = env.session.scalars(
        select(Timer).where(Timer.instance_id == instance.id, Timer.state == TaskState.OPEN)
    ).all()
    for row in rows:
        if row.spiff_task_id not in waiting:
            task = spiff.find_task(workflow, row.spiff_task_id)
            fired = task is not None and task.state == spiff.TaskState.COMPLETED
            row.state = TaskState.COMPLETED if fired else TaskState.CANCELLED
            row.fired_at = env.now if fired else None
    known = {row.spiff_task_id for row in rows}
    env.session.add_all(
        Timer(instance_id=instance.id, spiff_task_id=key, task_name=name, due_at=due)
        for key, (name, due) in waiting.items()
        if key not in known
    )
    dues = [due.astimezone(UTC) for _name, due in waiting.values()]
    instance.next_timer_at = min(dues, default=None)

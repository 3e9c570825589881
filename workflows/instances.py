"""Operations on whole instances: start, withdraw (撤回), urge (催办), copy (抄送), comment,
and the administrator's suspend, resume, terminate, retry and cancel. Each checks who may do
it, appends to the audit trail and only flushes."""

from sqlalchemy import select

from ledger.models.people import Department
from workflows import audit, permissions, runtime, spiff
from workflows.context import Env
from workflows.deploy import latest_definition
from workflows.errors import InvalidInput, NotAllowed, NotFound, UrgedTooOften
from workflows.formdata import validated
from workflows.models import (
    ENDED,
    Incident,
    IncidentState,
    InstanceStatus,
    ProcessInstance,
    TaskState,
    User,
)
from workflows.notify import notify
from workflows.registry import is_inert
from workflows.runtime import get_instance, open_workflow, require_status, run_engine, save

LIVE = (InstanceStatus.RUNNING, InstanceStatus.RETURNED)


def start_instance(
    env: Env,
    process_id: str,
    business_key: str,
    data: dict,
    department_id: int | None = None,
    title: str | None = None,
) -> ProcessInstance:
    """File a request on the newest version of `process_id` with the start form's `data`."""
    definition = latest_definition(env.session, process_id)
    if definition is None:
        raise NotFound(what_zh="流程", what_en="process", key=process_id)
    _require_start_role(env, definition, department_id)
    form_data = validated(definition.start_form, data, env.today)
    _require_new_key(env, process_id, business_key)
    instance = _new_instance(env, definition, business_key, department_id, title)
    env.session.add(instance)
    runtime.flush(env, instance)
    system = {"instance_id": instance.id, "business_key": business_key}
    system |= {"starter_id": env.user.id, "department_id": department_id}
    specs = spiff.load_specs(definition)
    workflow = spiff.new_workflow(specs, {**form_data, **system}, spiff.CardOfficeScriptEngine())
    audit.record(env, instance, "start", after="started", details={"version": definition.version})
    run_engine(env, instance, workflow)
    save(env, instance, workflow)
    return instance


def _new_instance(env: Env, definition, business_key: str, department_id, title):
    department = env.session.get(Department, department_id) if department_id else None
    return ProcessInstance(
        definition=definition,
        process_id=definition.process_id,
        business_key=business_key,
        title=(title or definition.name)[:200],
        status=InstanceStatus.RUNNING,
        state="",
        serializer_version=spiff.SERIALIZER_VERSION,
        started_by_id=env.user.id,
        department_id=department_id,
        started_at=env.now,
        summary={
            "requester": env.user.display_name,
            "department": department.name_zh if department else None,
        },
    )


def _require_start_role(env: Env, definition, department_id: int | None) -> None:
    if not any(env.user.acts_for(role, department_id) for role in definition.start_roles):
        raise NotAllowed(
            reason_zh=f"您没有发起“{definition.name}”的角色",
            reason_en=f"your roles do not include starting '{definition.name}'",
        )


def _require_new_key(env: Env, process_id: str, business_key: str) -> None:
    query = select(ProcessInstance.id).where(
        ProcessInstance.process_id == process_id, ProcessInstance.business_key == business_key
    )
    if not business_key or env.session.scalar(query) is not None:
        raise runtime.key_taken(business_key)


def withdraw(env: Env, instance_id: int, reason: str = "") -> ProcessInstance:
    """The applicant takes back a request still undecided: running or returned, with no
    action carried out yet (inert look-ups and checks carry nothing out)."""
    instance = get_instance(env.session, instance_id)
    permissions.require_starter(env, instance)
    require_status(instance, LIVE, "撤回", "withdrawn")
    workflow = open_workflow(env, instance)
    if spiff.carried_out_actions(workflow.get_tasks(), is_inert):
        raise NotAllowed(
            reason_zh="申请已开始办理，不能撤回",
            reason_en="the request is already being carried out",
        )
    return _end(env, instance, workflow, InstanceStatus.WITHDRAWN, "withdraw", reason)


def _end(env: Env, instance, workflow, status, action: str, comment: str = ""):
    before = instance.status.value
    waiting = runtime.current_holders(env.session, instance.id)
    workflow.cancel()
    instance.status, instance.ended_at = status, env.now
    if incident := runtime.open_incident_of(env.session, instance.id):
        incident.state, incident.updated_at = IncidentState.CANCELLED, env.now
    save(env, instance, workflow)
    audit.record(env, instance, action, comment=comment, before=before, after=status.value)
    notify(
        env, waiting + [instance.started_by_id], instance, action,
        f"申请 {instance.business_key}“{instance.title}”{runtime.STATUS_ZH[status]}",
        f"Request {instance.business_key} '{instance.title}' is {status.value}",
    )  # fmt: skip
    return instance


def urge(env: Env, instance_id: int) -> list[int]:
    """催办: remind whoever holds the request; at most once per interval (an hour)."""
    instance = get_instance(env.session, instance_id)
    permissions.require_starter(env, instance)
    require_status(instance, (InstanceStatus.RUNNING,), "催办", "urged")
    last = instance.last_urged_at
    if last is not None and env.now < last + env.config.urge_interval:
        next_at = (last + env.config.urge_interval).astimezone(env.config.ledger.zone)
        raise UrgedTooOften(business_key=instance.business_key, next_at=f"{next_at:%H:%M}")
    people = runtime.current_holders(env.session, instance.id)
    instance.last_urged_at = env.now
    notify(
        env, people, instance, "urge",
        f"催办：请尽快处理申请 {instance.business_key}“{instance.title}”",
        f"Reminder: please act on request {instance.business_key} '{instance.title}'",
    )  # fmt: skip
    audit.record(env, instance, "urge", details={"notified": people})
    runtime.flush(env, instance)
    return people


def copy_to(env: Env, instance_id: int, user_ids: list[int], comment: str = "") -> None:
    """抄送: let other people see the request, for their information (no action needed)."""
    instance = get_instance(env.session, instance_id)
    permissions.require_view(env, instance)
    users = [env.session.get(User, uid) for uid in user_ids]
    if not users or any(user is None or not user.active for user in users):
        raise InvalidInput(reason_zh="抄送对象无效", reason_en="unknown or inactive person to copy")
    notify(
        env, user_ids, instance, "copy",
        f"抄送：{env.user.display_name} 请您知悉申请 {instance.business_key}“{instance.title}”",
        f"For your information: {instance.business_key} '{instance.title}'",
    )  # fmt: skip
    audit.record(env, instance, "copy", comment=comment, details={"to": sorted(user_ids)})
    runtime.flush(env, instance)


def add_comment(env: Env, instance_id: int, text: str) -> None:
    """A comment on the request, for everyone who can see it."""
    instance = get_instance(env.session, instance_id)
    permissions.require_view(env, instance)
    if not text or not text.strip() or len(text) > 2000:
        raise InvalidInput(reason_zh="评论须为 1 至 2000 字", reason_en="a comment is 1-2000 chars")
    audit.record(env, instance, "comment", comment=text.strip())
    runtime.flush(env, instance)


def suspend(env: Env, instance_id: int, reason: str = "") -> ProcessInstance:
    """Administrator: stop the request where it is; its tasks leave every inbox."""
    permissions.require_admin(env)
    instance = get_instance(env.session, instance_id)
    require_status(instance, (*LIVE, InstanceStatus.INCIDENT), "挂起", "suspended")
    before = instance.status.value
    instance.status = InstanceStatus.SUSPENDED
    for row in runtime.open_tasks(env.session, instance.id):
        row.state = TaskState.SUSPENDED
    audit.record(env, instance, "suspend", comment=reason, before=before, after="suspended")
    runtime.flush(env, instance)
    return instance


def resume(env: Env, instance_id: int) -> ProcessInstance:
    """Administrator: a suspended request goes on where it stopped."""
    permissions.require_admin(env)
    instance = get_instance(env.session, instance_id)
    require_status(instance, (InstanceStatus.SUSPENDED,), "恢复", "resumed")
    rows = env.session.scalars(
        select(runtime.HumanTask).where(
            runtime.HumanTask.instance_id == instance.id,
            runtime.HumanTask.state == TaskState.SUSPENDED,
        )
    ).all()
    for row in rows:
        row.state = TaskState.OPEN
    incident = runtime.open_incident_of(env.session, instance.id)
    returned = any(row.kind == runtime.TaskKind.RESUBMIT for row in rows)
    instance.status = (
        InstanceStatus.INCIDENT if incident else
        InstanceStatus.RETURNED if returned else InstanceStatus.RUNNING
    )  # fmt: skip
    audit.record(env, instance, "resume", before="suspended", after=instance.status.value)
    runtime.flush(env, instance)
    return instance


def terminate(env: Env, instance_id: int, reason: str = "") -> ProcessInstance:
    """Administrator: end the request for good; nothing more of it is carried out."""
    permissions.require_admin(env)
    instance = get_instance(env.session, instance_id)
    if instance.status in ENDED:
        require_status(instance, (), "终止", "terminated")
    workflow = open_workflow(env, instance)
    return _end(env, instance, workflow, InstanceStatus.TERMINATED, "terminate", reason)


def retry_incident(env: Env, incident_id: int) -> Incident:
    """Administrator: run the failed step again; on success the request goes on. A
    suspended request must be resumed first."""
    permissions.require_admin(env)
    incident = _incident_to_handle(env, incident_id)
    instance = incident.instance
    require_status(instance, (InstanceStatus.INCIDENT,), "重试", "retried")
    workflow = open_workflow(env, instance)
    task = spiff.find_task(workflow, incident.spiff_task_id)
    if task is not None and task.state == spiff.TaskState.ERROR:
        task._set_state(spiff.TaskState.READY)  # a failed script: run it again
    instance.status = InstanceStatus.RUNNING
    attempts = incident.attempts
    failed = run_engine(env, instance, workflow)
    if failed is None:
        incident.state, incident.updated_at = IncidentState.RESOLVED, env.now
    save(env, instance, workflow)
    audit.record(
        env, instance, "retry", before="incident", after=instance.status.value,
        details={"incident": incident.id, "attempt": attempts + 1, "ok": failed is None},
    )  # fmt: skip
    return incident


def cancel_incident(env: Env, incident_id: int, reason: str = "") -> ProcessInstance:
    """Administrator: give up on the failed step and terminate the request."""
    permissions.require_admin(env)
    incident = _incident_to_handle(env, incident_id)
    return terminate(env, incident.instance_id, reason)


def _incident_to_handle(env: Env, incident_id: int) -> Incident:
    incident = env.session.get(Incident, incident_id)
    if incident is None or incident.state != IncidentState.OPEN:
        raise NotFound(what_zh="未处理的故障", what_en="open incident", key=incident_id)
    return incident

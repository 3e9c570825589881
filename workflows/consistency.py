"""The engine's invariants, checked over the whole database: what must hold however a request
ended (a crash, a killed worker, a lost connection), since every change is one transaction.

- every running instance can go on: a person (an open task) or time (a waiting timer) is to
  act; a returned one waits for its resubmission, one with an incident for its open incident;
  an ended one holds nothing open;
- a running instance's task and timer rows are those its serialized workflow waits on;
- no task was decided twice (one deciding audit row per task at most);
- no timer fired twice (one fired row per timer event) and none was lost (due before `now`
  and still waiting, on an instance that could fire it);
- every audit chain verifies.

`find_inconsistencies` lists what it finds; an empty list means every invariant holds.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflows import audit, spiff
from workflows.models import (
    ENDED,
    AuditEntry,
    HumanTask,
    Incident,
    IncidentState,
    InstanceStatus,
    ProcessInstance,
    TaskKind,
    TaskState,
    Timer,
)

#: Audit actions that close a task by deciding it (tasks.complete, resubmit, return_task).
DECIDING = ("approve", "reject", "complete", "resubmit", "return")


@dataclass(frozen=True)
class Inconsistency:
    """One broken invariant: which, on which instance (and task or timer), and how."""

    rule: str
    instance_id: int
    detail: str


def find_inconsistencies(session: Session, now: datetime) -> list[Inconsistency]:
    """Every broken invariant, with timers due at `now` counted as lost if still waiting (run
    it after a worker's pass). Reads only."""
    found = _stuck(session) + _out_of_step(session) + _decided_twice(session)
    found += _fired_twice(session) + _lost_timers(session, now)
    found += [Inconsistency("audit_chain", b.instance_id, f"row {b.seq}: {b.reason}")
              for b in audit.verify_chains(session)]  # fmt: skip
    return found


def _open_counts(session: Session, model, state, *where) -> dict[int, int]:
    query = select(model.instance_id, func.count()).where(model.state == state, *where)
    return dict(session.execute(query.group_by(model.instance_id)).all())


def _stuck(session: Session) -> list[Inconsistency]:
    """Instances nobody and nothing will move on, and ended ones that still hold something."""
    tasks = _open_counts(session, HumanTask, TaskState.OPEN)
    resubmits = _open_counts(
        session, HumanTask, TaskState.OPEN, HumanTask.kind == TaskKind.RESUBMIT
    )
    timers = _open_counts(session, Timer, TaskState.OPEN)
    incidents = _open_counts(session, Incident, IncidentState.OPEN)
    found = []
    rows = session.execute(select(ProcessInstance.id, ProcessInstance.status,
                                  ProcessInstance.ended_at))  # fmt: skip
    for key, status, ended_at in rows:
        held = tasks.get(key, 0) + timers.get(key, 0)
        reason = None
        if status == InstanceStatus.RUNNING and not held:
            reason = "running with no open task and no waiting timer"
        elif status == InstanceStatus.RETURNED and not resubmits.get(key):
            reason = "returned with no open resubmission"
        elif status == InstanceStatus.INCIDENT and not incidents.get(key):
            reason = "in incident with no open incident"
        elif status in ENDED and (held or incidents.get(key) or ended_at is None):
            reason = f"{status.value} but still holds tasks, timers or incidents, or no end time"
        if reason:
            found.append(Inconsistency("stuck", key, reason))
    return found


def _out_of_step(session: Session) -> list[Inconsistency]:
    """Running instances whose task or timer rows differ from what their workflow waits on."""
    tasks = _open_ids(session, HumanTask.spiff_task_id, HumanTask.kind == TaskKind.TASK)
    timers = _open_ids(session, Timer.spiff_task_id)
    found = []
    running = select(ProcessInstance).where(ProcessInstance.status == InstanceStatus.RUNNING)
    for instance in session.scalars(running.order_by(ProcessInstance.id)):
        specs = spiff.load_specs(instance.definition)
        workflow = spiff.load_workflow(instance.state, specs, spiff.CardOfficeScriptEngine())
        ready = {info.spiff_task_id for info in spiff.ready_user_tasks(workflow)}
        waiting = {key for key, _name, _due in spiff.waiting_timers(workflow)}
        if workflow.is_completed():
            found.append(Inconsistency("out_of_step", instance.id, "workflow ended, row running"))
        if ready != tasks.get(instance.id, set()):
            found.append(Inconsistency("out_of_step", instance.id, "open tasks differ"))
        if waiting != timers.get(instance.id, set()):
            found.append(Inconsistency("out_of_step", instance.id, "waiting timers differ"))
        session.expunge(instance)  # its serialized state is large: do not keep them all
    return found


def _open_ids(session: Session, column, *where) -> dict[int, set[str]]:
    model = column.class_
    query = select(model.instance_id, column).where(model.state == TaskState.OPEN, *where)
    ids: dict[int, set[str]] = {}
    for key, spiff_id in session.execute(query):
        ids.setdefault(key, set()).add(spiff_id)
    return ids


def _decided_twice(session: Session) -> list[Inconsistency]:
    """Tasks with more than one deciding audit row."""
    query = (
        select(AuditEntry.instance_id, AuditEntry.human_task_id, func.count())
        .where(AuditEntry.action.in_(DECIDING), AuditEntry.human_task_id.is_not(None))
        .group_by(AuditEntry.instance_id, AuditEntry.human_task_id)
        .having(func.count() > 1)
    )
    return [Inconsistency("decided_twice", key, f"task {task_id} decided {n} times")
            for key, task_id, n in session.execute(query)]  # fmt: skip


def _fired_twice(session: Session) -> list[Inconsistency]:
    """Timer events with more than one fired row."""
    query = (
        select(Timer.instance_id, Timer.task_name, func.count())
        .where(Timer.state == TaskState.COMPLETED)
        .group_by(Timer.instance_id, Timer.spiff_task_id, Timer.task_name)
        .having(func.count() > 1)
    )
    return [Inconsistency("fired_twice", key, f"timer {name} fired {n} times")
            for key, name, n in session.execute(query)]  # fmt: skip


def _lost_timers(session: Session, now: datetime) -> list[Inconsistency]:
    """Timers due at `now`, still waiting on a running instance."""
    query = (
        select(Timer.instance_id, Timer.task_name, Timer.due_at)
        .join(ProcessInstance, ProcessInstance.id == Timer.instance_id)
        .where(Timer.state == TaskState.OPEN, Timer.due_at <= now)
        .where(ProcessInstance.status == InstanceStatus.RUNNING)
    )
    return [Inconsistency("lost_timer", key, f"timer {name} due {due:%H:%M:%S} not fired")
            for key, name, due in session.execute(query)]  # fmt: skip

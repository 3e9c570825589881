"""A request as its printed form is drawn from it: the instance, its workflow and start form
data, what its service steps left in the workflow, and each decided step with the data its
form recorded; and the parts every form shares (facts, decisions), as plain dicts.

Texts are in the UI language of the caller: the route gathers inside `language("zh")`."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.display import department_names, process_name, start_data, status_label
from app.instances.timeline import Event
from app.portal.printing import decisions
from workflows import runtime, spiff
from workflows.context import Env
from workflows.models import AuditEntry, ProcessInstance


@dataclass(frozen=True)
class Filed:
    """A request to print: the instance, its workflow, its start form data, the decisions
    table's rows, the last decision on each step by task name (its row and the data its
    form recorded, e.g. `certified`), and the departments' names by id."""

    env: Env
    instance: ProcessInstance
    workflow: Any
    start: dict
    decisions: list[dict]
    steps: dict[str, dict]
    names: dict[int, str]

    def step(self, task_name: str) -> dict | None:
        """The last decision on the step `task_name` with its form's data (None if none)."""
        return self.steps.get(task_name)

    def results(self, spec_name: str) -> list[dict]:
        """The data of each completed task `spec_name`, in the order they finished; the
        instances of a multi-instance step (its subprocesses) included."""
        return spiff.completed_task_data(self.workflow, spec_name)

    def result(self, spec_name: str, variable: str, default=None):
        """What the last completed task `spec_name` left in `variable` (a service task's
        result variable, a decision's output), else `default`."""
        found = [data[variable] for data in self.results(spec_name) if variable in data]
        return found[-1] if found else default

    def department_name(self, department_id: int | None) -> str:
        """The name of a department (the request's data names them by id); "" if none."""
        if department_id is None:
            return ""
        return self.names.get(int(department_id), str(department_id))


def open_filed(env: Env, instance: ProcessInstance) -> Filed:
    """The request `instance` as `Filed`, its workflow read (nothing is saved)."""
    workflow = runtime.open_workflow(env, instance)
    rows, steps = decided_steps(env.session, instance.id)
    start = start_data(env, instance, workflow)
    return Filed(env, instance, workflow, start, rows, steps, department_names(env.session))


def decision_row(event: Event) -> dict:
    """A decision of the timeline as the forms print it."""
    return {
        "step": event.step, "decision": event.label, "actor": event.actor,
        "on_behalf_of": event.on_behalf_of, "at": event.at, "comment": event.comment,
    }  # fmt: skip


def decided_steps(session: Session, instance_id: int) -> tuple[list[dict], dict[str, dict]]:
    """The decisions on the request in order, and the last of each step by its task name
    with the data the step's form recorded (the audit keeps it)."""
    events = decisions(session, instance_id)
    query = select(AuditEntry.seq, AuditEntry.task_name, AuditEntry.details).where(
        AuditEntry.instance_id == instance_id, AuditEntry.seq.in_([e.seq for e in events])
    )
    recorded = {seq: (name, details) for seq, name, details in session.execute(query)}
    rows, steps = [], {}
    for event in events:
        row = decision_row(event)
        rows.append(row)
        name, details = recorded[event.seq]
        steps[name] = (details or {}).get("data", {}) | row
    return rows, steps


def common_parts(filed: Filed) -> dict:
    """What every form carries: the request's facts and the decisions taken on it."""
    instance = filed.instance
    facts = {
        "business_key": instance.business_key, "title": instance.title,
        "process": process_name(instance.process_id, instance.definition.name),
        "department": filed.department_name(instance.department_id),
        "applicant": instance.started_by.display_name, "submitted_at": instance.started_at,
        "ended_at": instance.ended_at, "status": status_label(instance.status),
    }  # fmt: skip
    return {"facts": facts, "decisions": filed.decisions}

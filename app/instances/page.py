"""What the instance page shows, gathered in one place: the request's facts and data, its
current tasks and who holds them, its files, the audit timeline and the diagram's marks."""

from dataclasses import dataclass
from datetime import datetime

from flask import url_for
from sqlalchemy.orm import Session

from app.display import (
    campus_moment,
    department_names,
    holder,
    request_data,
    start_data,
    step_title,
)
from app.instances import diagram
from app.instances.timeline import timeline
from workflows import runtime, webstate
from workflows.context import Env
from workflows.models import HumanTask, ProcessInstance, TaskState, User
from workflows.permissions import qualifies


@dataclass(frozen=True)
class CurrentTask:
    """An open task of the request: its step, who holds it, since when, until when."""

    id: int
    title: str
    holder: str
    since: datetime
    due: datetime | None
    overdue: bool
    suspended: bool
    link: str | None


def instance_page(env: Env, instance: ProcessInstance) -> dict:
    """The template's variables for `instance`, as `env.user` may see it."""
    names = department_names(env.session)
    workflow = runtime.open_workflow(env, instance)
    data = start_data(env, instance, workflow)
    return {
        "instance": instance,
        "definition": instance.definition,
        "department": names.get(instance.department_id, ""),
        "data": request_data(env.session, instance, data),
        "tasks": current_tasks(env, instance.id, names),
        "files": webstate.attachments_of(env.session, instance.id),
        "may_attach": webstate.may_attach(env, instance),
        "max_attachment_mb": webstate.MAX_ATTACHMENT_BYTES // (1024 * 1024),
        "events": timeline(env.session, instance.id),
        "marks": diagram.element_marks(env.session, instance, workflow),
    }


def current_tasks(env: Env, instance_id: int, names: dict[int, str]) -> list[CurrentTask]:
    """The request's open (and suspended) tasks with their holders; a link to the task's page
    for whoever may act on it."""
    rows = runtime.open_tasks(env.session, instance_id, suspended=True)
    people = webstate.acting_people(env)
    return [
        CurrentTask(
            id=row.id,
            title=step_title(row.title, row.kind),
            holder=_holder(env.session, row, names),
            since=row.created_at,
            due=row.due_at,
            overdue=row.due_at is not None and campus_moment(row.due_at) < env.now,
            suspended=row.state == TaskState.SUSPENDED,
            link=_link(row, people),
        )
        for row in rows
    ]


def _link(row: HumanTask, people: list[User]) -> str | None:
    """The task's page in the inbox, for whoever may act on it."""
    return url_for("inbox.task", task_id=row.id) if any(qualifies(p, row) for p in people) else None


def _holder(session: Session, row: HumanTask, names: dict[int, str]) -> str:
    assignee = session.get(User, row.assignee_id) if row.assignee_id is not None else None
    department = names.get(row.candidate_department_id)
    return holder(assignee.display_name if assignee else None, row.candidate_role, department)

"""What the instance page shows, gathered in one place: the request's facts and data, its
current tasks and who holds them, its files, the audit timeline and the diagram's marks."""

from dataclasses import dataclass
from datetime import datetime

from flask import url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.routing import BuildError

from app.i18n import current_language, pick
from app.instances import attachments, diagram, timeline
from app.instances.data import Shown, shown_data
from forms import get_form
from ledger.models.people import Department
from workflows import runtime, spiff
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
    zone = env.config.ledger.zone
    names = _department_names(env.session)
    workflow = runtime.open_workflow(env, instance)
    definition = instance.definition
    return {
        "instance": instance,
        "definition": definition,
        "status_label": timeline.state_label(instance.status.value),
        "department": names.get(instance.department_id, ""),
        "applicant": instance.started_by.display_name,
        "started_at": timeline.local_time(instance.started_at, zone),
        "ended_at": timeline.local_time(instance.ended_at, zone),
        "data": request_data(definition.start_form, workflow, names),
        "tasks": current_tasks(env, instance.id, names),
        "files": attachments.attachments_of(env.session, instance.id, zone),
        "may_attach": attachments.may_attach(env, instance),
        "max_attachment_mb": attachments.MAX_ATTACHMENT_BYTES // (1024 * 1024),
        "events": timeline.timeline(env.session, instance.id, zone),
        "marks": diagram.element_marks(env.session, instance, workflow),
    }


def request_data(form_name: str | None, workflow, names: dict[int, str]) -> list[Shown]:
    """The start form's data as filed (or as last resubmitted), under the form's labels."""
    if not form_name:
        return []
    return shown_data(get_form(form_name), spiff.start_task(workflow).data, names.get)


def _department_names(session: Session) -> dict[int, str]:
    return {d.id: pick(d, "name") for d in session.scalars(select(Department))}


def current_tasks(env: Env, instance_id: int, names: dict[int, str]) -> list[CurrentTask]:
    """The request's open (and suspended) tasks with their holders."""
    rows = runtime.open_tasks(env.session, instance_id, suspended=True)
    zone = env.config.ledger.zone
    people = attachments.acting_people(env)
    return [
        CurrentTask(
            id=row.id,
            title=timeline.step_title(row.title, row.kind),
            holder=_holder(env.session, row, names),
            since=timeline.local_time(row.created_at, zone),
            due=timeline.local_time(row.due_at, zone),
            overdue=row.due_at is not None and timeline.local_time(row.due_at, zone) < env.now,
            suspended=row.state == TaskState.SUSPENDED,
            link=task_link(row.id) if any(qualifies(p, row) for p in people) else None,
        )  # fmt: skip
        for row in rows
    ]


def task_link(task_id: int) -> str | None:
    """The task's page in the inbox (none while the inbox is not installed)."""
    try:
        return url_for("inbox.task", task_id=task_id)
    except BuildError:
        return None


def _holder(session: Session, row: HumanTask, names: dict[int, str]) -> str:
    if row.assignee_id is not None:
        user = session.get(User, row.assignee_id)
        return user.display_name if user else ""
    if row.candidate_role is None:
        return ""
    role = row.candidate_role.label(current_language())
    department = names.get(row.candidate_department_id)
    return _("%(role)s（%(department)s）", role=role, department=department) if department else role

"""The user's own requests, newest first, a page at a time, each with the steps it waits at
and who holds them; read in two statements whatever the page holds."""

from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.i18n import current_language, pick
from ledger.models.people import Department
from workflows.models import (
    HumanTask,
    InstanceStatus,
    ProcessInstance,
    TaskKind,
    TaskState,
    User,
)

PAGE_SIZE = 20


@dataclass(frozen=True)
class Step:
    """An open task of a request: its title, who holds it, and whether it is the
    applicant's resubmission after a return."""

    task_id: int
    title: str
    holder: str
    resubmit: bool


@dataclass
class RequestRow:
    """A request as the list shows it."""

    instance: ProcessInstance
    steps: list[Step] = field(default_factory=list)

    @property
    def resubmit_task(self) -> Step | None:
        """The open resubmission task of a returned request, if any."""
        return next((step for step in self.steps if step.resubmit), None)


@dataclass(frozen=True)
class RequestsPage:
    """One page of the list and whether more follow."""

    rows: list[RequestRow]
    page: int
    has_next: bool


def parse_status(value: str | None) -> InstanceStatus | None:
    """The status filter from the query, None for every status (or an unknown one)."""
    try:
        return InstanceStatus(value) if value else None
    except ValueError:
        return None


def requests_page(
    session: Session, user_id: int, status: InstanceStatus | None, page: int
) -> RequestsPage:
    """Page `page` (from 1) of the requests `user_id` filed, newest first, of `status` if
    given."""
    page = max(page, 1)
    query = select(ProcessInstance).where(ProcessInstance.started_by_id == user_id)
    if status is not None:
        query = query.where(ProcessInstance.status == status)
    query = query.order_by(ProcessInstance.started_at.desc(), ProcessInstance.id.desc())
    found = list(session.scalars(query.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)))
    rows = [RequestRow(instance) for instance in found[:PAGE_SIZE]]
    by_id = {row.instance.id: row for row in rows}
    for step_instance, step in open_steps(session, list(by_id)):
        by_id[step_instance].steps.append(step)
    return RequestsPage(rows, page, len(found) > PAGE_SIZE)


def open_steps(session: Session, instance_ids: list[int]) -> list[tuple[int, Step]]:
    """(instance id, step) for every open task of the instances, in the order they opened."""
    if not instance_ids:
        return []
    query = (
        select(HumanTask, User.display_name, Department)
        .outerjoin(User, User.id == HumanTask.assignee_id)
        .outerjoin(Department, Department.id == HumanTask.candidate_department_id)
        .where(HumanTask.instance_id.in_(instance_ids), HumanTask.state == TaskState.OPEN)
        .order_by(HumanTask.id)
    )
    return [
        (task.instance_id, Step(task.id, task.title, _holder(task, assignee, department),
                                task.kind == TaskKind.RESUBMIT))
        for task, assignee, department in session.execute(query)
    ]  # fmt: skip


def _holder(task: HumanTask, assignee: str | None, department: Department | None) -> str:
    if assignee:
        return assignee
    if task.candidate_role is None:
        return ""
    where = pick(department, "name") if department else _("全校")
    role = task.candidate_role.label(current_language())
    return _("%(role)s（%(department)s）", role=role, department=where)

"""The user's own requests, newest first, a page at a time, each with the steps it waits at
and who holds them; read in three statements whatever the page holds."""

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.display import holder, step_title
from app.i18n import pick
from app.paging import Page
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


def parse_status(value: str | None) -> InstanceStatus | None:
    """The status filter from the query, None for every status (or an unknown one)."""
    try:
        return InstanceStatus(value) if value else None
    except ValueError:
        return None


def requests_page(
    session: Session, user_id: int, status: InstanceStatus | None, number: int
) -> tuple[Page, list[RequestRow]]:
    """Page `number` (from 1) of the requests `user_id` filed, newest first, of `status` if
    given: the page and its rows."""
    where = [ProcessInstance.started_by_id == user_id]
    if status is not None:
        where.append(ProcessInstance.status == status)
    total = session.scalar(select(func.count(ProcessInstance.id)).where(*where))
    page = Page(number, total, PAGE_SIZE)
    query = (
        select(ProcessInstance)
        .where(*where)
        .order_by(ProcessInstance.started_at.desc(), ProcessInstance.id.desc())
        .offset(page.offset)
        .limit(page.size)
    )
    rows = [RequestRow(instance) for instance in session.scalars(query)]
    by_id = {row.instance.id: row for row in rows}
    for step_instance, step in open_steps(session, list(by_id)):
        by_id[step_instance].steps.append(step)
    return page, rows


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
        (task.instance_id, _step(task, assignee, department))
        for task, assignee, department in session.execute(query)
    ]


def _step(task: HumanTask, assignee: str | None, department: Department | None) -> Step:
    where = pick(department, "name") if department else None
    resubmit = task.kind == TaskKind.RESUBMIT
    return Step(task.id, step_title(task.title, task.kind),
                holder(assignee, task.candidate_role, where), resubmit)  # fmt: skip

"""The task page: who may open it, and everything it shows (the request, its history, its
attachments, the decision form and the other actions' choices)."""

from flask import abort, render_template, request
from sqlalchemy import select

from app.display import department_source, request_data, start_data
from app.formfields import describe
from app.inbox import people
from app.instances.timeline import timeline
from app.web import env
from forms import get_form
from ledger.models.people import Department
from workflows import permissions, webstate
from workflows.errors import NotAllowed
from workflows.models import HumanTask, TaskKind, TaskState


def access(row: HumanTask) -> tuple[int | None, int]:
    """(whom the user acts for on the task, None: themselves; a status): 200 if they may
    act on it, 403 if they may only see its request, 404 if not even that."""
    context = env()
    try:
        return permissions.acting_for(context, row), 200
    except NotAllowed:
        return None, 403 if permissions.can_view(context, row.instance) else 404


def task_to_act_on(task_id: int) -> tuple[HumanTask, int | None]:
    """The task and whom the user acts for on it (None: themselves); else 404 if the user
    may not even see its request, 403 if they may see it but not act on this task."""
    row = env().session.get(HumanTask, task_id)
    if row is None:
        abort(404)
    behalf, status = access(row)
    if status != 200:
        abort(status)
    return row, behalf


def earlier_steps(row: HumanTask) -> list[tuple[str, str]]:
    """(task name, title) of the steps of the request already decided: where it may be
    returned to, besides its applicant."""
    query = (
        select(HumanTask.task_name, HumanTask.title)
        .where(
            HumanTask.instance_id == row.instance_id,
            HumanTask.state == TaskState.COMPLETED,
            HumanTask.kind == TaskKind.TASK,
        )
        .order_by(HumanTask.completed_at, HumanTask.id)
    )
    steps = dict(env().session.execute(query).all())
    return [(name, title) for name, title in steps.items() if name != row.task_name]


def _decision_fields(row: HumanTask, values, errors, start_values: dict, source) -> list:
    if not row.form:
        return []
    if values is None:
        values = start_values if row.kind == TaskKind.RESUBMIT else {}
    return describe(get_form(row.form), values, errors, source)


def render_task(
    row: HumanTask,
    behalf: int | None,
    values: dict | None = None,
    errors: dict | None = None,
    problem: tuple[str, str] | None = None,
    status: int = 200,
):
    """The task page; after a refused action, with `values` and `errors` in the decision
    form, or `problem` (the action, the message) beside that action's form."""
    context, instance = env(), row.instance
    session, me = context.session, context.user.id
    data = start_data(context, instance)
    source = department_source(session)
    page = render_template(
        "inbox/task.html",
        row=row, instance=instance,
        department=instance.department_id and session.get(Department, instance.department_id),
        behalf_name=people.names_of(session, [behalf]).get(behalf),
        resubmit=row.kind == TaskKind.RESUBMIT,
        filed=request_data(session, instance, data),
        fields=_decision_fields(row, values, errors, data, source), errors=errors or {},
        events=timeline(session, instance.id),
        files=webstate.attachments_of(session, instance.id),
        steps=earlier_steps(row), candidates=people.qualified_for(session, row, but=me),
        listed=people.LISTED,
        problem=dict([problem]) if problem else {}, posted=request.form,
        overdue=row.due_at is not None and row.due_at < context.now,
    )  # fmt: skip
    return page, status

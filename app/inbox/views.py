"""The inbox list: my tasks and my groups' tasks (and those of whom I stand in for), newest
first, filtered and paged by keyset; saved filters; and bulk approval of plain decisions."""

import logging

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy.exc import SQLAlchemyError

from app.display import departments, process_choices, task_label
from app.i18n import current_language
from app.inbox import bp
from app.inbox.filters import (
    PAGE_SIZE,
    filter_params,
    inbox_filter,
    keyset_of,
    parse_keyset,
    whose_tabs,
)
from app.inbox.people import names_of
from app.inbox.task_page import access
from app.nav import COUNT_CAP
from app.web import env, inbox_scope, perform
from ledger.errors import DomainError
from workflows import tasks, webstate
from workflows.inbox import inbox_count, inbox_page
from workflows.models import HumanTask, TaskKind

log = logging.getLogger(__name__)

#: The form whose approval needs no input but the decision (forms/decision.py).
PLAIN_DECISION = "decision"


def bulk_approvable(row: HumanTask) -> bool:
    """Whether the task can be approved from the list: a plain decision, nothing to fill."""
    return row.kind == TaskKind.TASK and row.form == PLAIN_DECISION


@bp.get("/inbox")
@login_required
def index():
    """The inbox page: one page of open tasks under the filter in the query."""
    context = env()
    params = filter_params(request.args)
    where = inbox_filter(params, context)
    scope = inbox_scope()
    after = parse_keyset(request.args.get("after"))
    rows = inbox_page(context.session, scope, PAGE_SIZE, after, where)
    total = inbox_count(context.session, scope, where, at_most=COUNT_CAP)
    if not params:
        g.open_task_count = total  # the menu's count is the same
    # A full page may have older tasks after it: link to them from its last row.
    older = url_for(".index", **params, after=keyset_of(rows[-1])) if len(rows) == PAGE_SIZE else ""
    listed = departments(context.session)  # the filter's choices; the rows name theirs too
    return render_template(
        "inbox/index.html",
        rows=rows, params=params, paged=after is not None, older=older,
        total=total, tabs=whose_tabs(params),
        assignees=names_of(context.session, (row.assignee_id for row in rows)),
        saved=webstate.filters_of(context), processes=process_choices(context.session),
        departments=listed, department_of={d.id: d for d in listed}, now=context.now,
        approvable=bulk_approvable,
    )  # fmt: skip


@bp.post("/inbox/filters")
@login_required
def save_filter():
    """Save the filter in the form under the name given, then show it."""
    params = filter_params(request.form)
    name = request.form.get("name", "").strip()
    if not name:
        flash(_("请为筛选条件起个名字。"), "error")
    else:
        perform(webstate.save_filter, env(), name, params)
        flash(_("筛选条件“%(name)s”已保存。", name=name[:50]), "success")
    return redirect(url_for(".index", **params))


@bp.post("/inbox/filters/<int:filter_id>/delete")
@login_required
def delete_filter(filter_id: int):
    """Delete one of the user's saved filters."""
    perform(webstate.delete_filter, env(), filter_id)
    flash(_("筛选条件已删除。"), "success")
    return redirect(url_for(".index"))


@bp.post("/inbox/bulk-approve")
@login_required
def bulk_approve():
    """Approve each chosen plain-decision task in its own unit of work; report what failed."""
    ids = [int(v) for v in request.form.getlist("task_id") if v.isdigit()]
    comment = request.form.get("comment", "").strip()
    done, failed = 0, []
    for task_id in dict.fromkeys(ids):
        problem = _approve_one(task_id, comment)
        if problem is None:
            done += 1
        else:
            failed.append(problem)
    if not ids:
        flash(_("请先勾选要同意的任务。"), "error")
    if done:
        flash(_("已同意 %(n)s 项任务。", n=done), "success")
    for what, reason in failed:
        flash(_("未能同意 %(task)s：%(reason)s", task=what, reason=reason), "error")
    return redirect(url_for(".index"))


def _approve_one(task_id: int, comment: str) -> tuple[str, str] | None:
    """Approve one task; None if done, else (which task, why not). A database failure
    (deadlock, lost connection) fails this task alone: its unit of work is rolled back, the
    tasks approved before it stay approved, and the next one is tried."""
    what = f"#{task_id}"
    try:
        row = env().session.get(HumanTask, task_id)
        if row is None or access(row)[1] == 404:  # not even its request may be seen: say nothing
            return what, _("任务不存在")
        what = task_label(row)
        if not bulk_approvable(row):
            return what, _("此任务须填写表单，请打开任务逐项办理")
        perform(tasks.complete, env(), task_id, {"decision": "approve", "comment": comment})
    except DomainError as exc:
        return what, exc.message(current_language())
    except SQLAlchemyError:
        log.exception("bulk approval of task %s failed", task_id)
        env().session.rollback()  # a failed read too leaves the session usable for the next
        return what, _("系统暂时无法办理，请稍后重试")
    return None

"""The task page's actions: decide (approve, reject, or resubmit a returned request), claim
and unclaim, return (退回), transfer (转办), add a signer (加签) and copy (抄送)."""

from flask import flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from app.display import task_label
from app.formfields import flat_errors, parse
from app.i18n import current_language
from app.inbox import bp
from app.inbox.people import one_user, users_named
from app.inbox.task_page import render_task, task_to_act_on
from app.web import env, perform, perform_and_tell
from forms import get_form
from ledger.errors import DomainError
from workflows import instances, tasks
from workflows.errors import FormInvalid, TaskNotReady
from workflows.models import HumanTask, TaskState
from workflows.tasks import SUBMITTER


def _problem(row: HumanTask, behalf, action: str, message: str, values=None):
    """The page again with `message` beside the form of `action` (422)."""
    return render_task(row, behalf, values, problem=(action, message), status=422)


def _no_user_message() -> str:
    return _("请选择或填写有效的用户名。")


@bp.get("/tasks/<int:task_id>")
@login_required
def task(task_id: int):
    """The task page; a task already done leads to its request's page."""
    row, behalf = task_to_act_on(task_id)
    if row.state != TaskState.OPEN:
        flash(_("该任务已办理或已取消。"), "info")
        return redirect(url_for("instances.show", instance_id=row.instance_id))
    return render_task(row, behalf)


def _form_data(row: HumanTask) -> dict:
    """The task form's fields as posted (none for a task without a form)."""
    return parse(get_form(row.form), request.form) if row.form else {}


def _done(message: str):
    flash(message, "success")
    return redirect(url_for(".index"))


def _refused(row: HumanTask, behalf, action: str, exc: DomainError, values=None):
    """The page again with why `action` was refused, beside its form; a task that is no
    longer open leads back to its page (and from there to the request)."""
    if isinstance(exc, TaskNotReady):
        flash(exc.message(current_language()), "error")
        return redirect(url_for(".task", task_id=row.id))
    if isinstance(exc, FormInvalid):
        return render_task(row, behalf, values, flat_errors(exc.errors), status=422)
    message = exc.message(current_language())
    return render_task(row, behalf, values, problem=(action, message), status=exc.status)


@bp.post("/tasks/<int:task_id>/decide")
@login_required
def decide(task_id: int):
    """Complete the task with its form (the corrected start form for a returned request)."""
    row, behalf = task_to_act_on(task_id)
    data, label = _form_data(row), task_label(row)
    try:
        perform(tasks.complete, env(), task_id, data)
    except DomainError as exc:
        return _refused(row, behalf, "decide", exc, data)
    return _done(_("已办理：%(task)s", task=label))


@bp.post("/tasks/<int:task_id>/claim")
@login_required
def claim(task_id: int):
    """Take a group task as one's own."""
    task_to_act_on(task_id)
    done = _("已认领，其他人不能再处理此任务。")
    if perform_and_tell(tasks.claim, env(), task_id, done=done) is None:
        return redirect(url_for(".index"))
    return redirect(url_for(".task", task_id=task_id))


@bp.post("/tasks/<int:task_id>/unclaim")
@login_required
def unclaim(task_id: int):
    """Give a claimed task back to the group."""
    task_to_act_on(task_id)
    done = _("已放弃认领，任务回到组内待办。")
    if perform_and_tell(tasks.unclaim, env(), task_id, done=done) is None:
        return redirect(url_for(".task", task_id=task_id))
    return redirect(url_for(".index"))


@bp.post("/tasks/<int:task_id>/return")
@login_required
def return_task(task_id: int):
    """退回 to the applicant (to correct and resubmit) or to an earlier step, with a reason."""
    row, behalf = task_to_act_on(task_id)
    to, label = request.form.get("to") or SUBMITTER, task_label(row)
    try:
        perform(tasks.return_task, env(), task_id, request.form.get("comment", ""), to)
    except DomainError as exc:
        return _refused(row, behalf, "return", exc)
    return _done(_("已退回：%(task)s", task=label))


@bp.post("/tasks/<int:task_id>/transfer")
@login_required
def transfer(task_id: int):
    """转办: hand the task to another person who holds its role."""
    row, behalf = task_to_act_on(task_id)
    context, label = env(), task_label(row)
    target = one_user(context.session, request.form.get("to_user"), request.form.get("username"))
    if target is None:
        return _problem(row, behalf, "transfer", _no_user_message())
    try:
        perform(tasks.transfer, context, task_id, target, request.form.get("comment", ""))
    except DomainError as exc:
        return _refused(row, behalf, "transfer", exc)
    return _done(_("已转办：%(task)s", task=label))


@bp.post("/tasks/<int:task_id>/add-signer")
@login_required
def add_signer(task_id: int):
    """加签: `before` — the signer decides first and the task comes back; `after` — approve
    now with the decision form's data and let the signer complete the step."""
    row, behalf = task_to_act_on(task_id)
    context, data, label = env(), _form_data(row), task_label(row)
    position = request.form.get("position", "before")
    if position == "after":
        data.setdefault("decision", "approve")
    signer = one_user(context.session, None, request.form.get("signer"))
    if signer is None:
        return _problem(row, behalf, "add_signer", _no_user_message(), data)
    try:
        perform(tasks.add_signer, context, task_id, signer, position, data)
    except DomainError as exc:
        return _refused(row, behalf, "add_signer", exc, data)
    return _done(_("已请他人加签：%(task)s", task=label))


@bp.post("/tasks/<int:task_id>/copy")
@login_required
def copy(task_id: int):
    """抄送: let the people named see the request, for their information."""
    row, behalf = task_to_act_on(task_id)
    context = env()
    ids, unknown = users_named(context.session, request.form.get("usernames", ""))
    if unknown or not ids:
        named = _("找不到用户：%(names)s", names="、".join(unknown))
        return _problem(row, behalf, "copy", named if unknown else _no_user_message())
    try:
        perform(instances.copy_to, context, row.instance_id, ids, request.form.get("comment", ""))
    except DomainError as exc:
        return _refused(row, behalf, "copy", exc)
    flash(_("已抄送 %(n)s 人。", n=len(ids)), "success")
    return redirect(url_for(".task", task_id=task_id))

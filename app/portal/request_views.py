"""The user's requests: the list with state, current step and holder; withdraw (撤回), urge
(催办) and the print-friendly page."""

from flask import abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.display import request_data, start_data
from app.instances.views import visible_instance
from app.paging import page_number
from app.portal import bp
from app.portal.listing import parse_status, requests_page
from app.portal.printing import decisions, signature_steps
from app.urls import safe_next
from app.web import env, perform_and_tell
from ledger.models.people import Department
from workflows import instances
from workflows.models import InstanceStatus, ProcessInstance


@bp.get("/requests")
@login_required
def my_requests():
    """The requests the user filed, newest first, 20 a page, optionally of one status."""
    status = parse_status(request.args.get("status"))
    number = page_number(request.args)
    page, rows = requests_page(env().session, current_user.id, status, number)
    return render_template(
        "portal/requests.html", page=page, rows=rows, status=status, statuses=list(InstanceStatus)
    )


@bp.post("/requests/<int:instance_id>/withdraw")
@login_required
def withdraw(instance_id: int):
    """Withdraw the user's own request with the reason given; back with a message."""
    _own_request(instance_id)
    reason = request.form.get("reason", "").strip()[:500]
    perform_and_tell(
        instances.withdraw, env(), instance_id, reason,
        done=lambda instance: _("申请 %(key)s 已撤回。", key=instance.business_key),
    )  # fmt: skip
    return _back()


@bp.post("/requests/<int:instance_id>/urge")
@login_required
def urge(instance_id: int):
    """Remind whoever holds the user's request (once an hour); back with a message."""
    _own_request(instance_id)
    perform_and_tell(
        instances.urge, env(), instance_id,
        done=lambda people: _("已催办，已提醒 %(n)s 位处理人。", n=len(people)),
    )  # fmt: skip
    return _back()


@bp.get("/requests/<int:instance_id>/print")
@login_required
def print_request(instance_id: int):
    """The request on one printable page: its data, the decisions, signature boxes."""
    context = env()
    instance = visible_instance(instance_id)
    department = context.session.get(Department, instance.department_id or 0)
    return render_template(
        "portal/print.html", instance=instance, department=department,
        data=request_data(context.session, instance, start_data(context, instance)),
        decisions=decisions(context.session, instance.id),
        steps=signature_steps(context.session, instance.id),
    )  # fmt: skip


def _own_request(instance_id: int) -> ProcessInstance:
    """The user's own request: 404 if they may not see it, 403 if it is someone else's."""
    instance = visible_instance(instance_id)
    if instance.started_by_id != current_user.id:
        abort(403)
    return instance


def _back():
    """Back to where the form said (`next`, on this site), else to the user's requests."""
    return redirect(safe_next(request.form.get("next")) or url_for("portal.my_requests"))

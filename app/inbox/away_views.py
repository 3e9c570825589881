"""Delegation while away (代理): name a substitute for some days, see and end one's
substitutions; and the notifications page with marking them read."""

from datetime import date

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from app.i18n import current_language
from app.inbox import bp
from app.inbox.people import LISTED, colleagues, one_user
from app.web import env, perform
from ledger.errors import DomainError
from workflows import away as substitutions
from workflows import identity, notify


def _away_page(problem: str = "", status: int = 200):
    context = env()
    page = render_template(
        "inbox/away.html",
        substitutions=substitutions.substitutions_of(context),
        standing_in_for=identity.absent_users(context.session, context.user.id, context.today),
        colleagues=colleagues(context.session, context.user), listed=LISTED,
        today=context.today.isoformat(), posted=request.form, problem=problem,
    )  # fmt: skip
    return page, status


def _day(name: str) -> date | None:
    try:
        return date.fromisoformat(request.form.get(name, ""))
    except ValueError:
        return None


@bp.get("/away")
@login_required
def away():
    """My substitutions that have not ended, whom I stand in for today, and the form to name
    a substitute."""
    return _away_page()


@bp.post("/away")
@login_required
def name_substitute():
    """Name a substitute from a start day to an end day (both included)."""
    context = env()
    substitute = one_user(
        context.session, request.form.get("substitute_id"), request.form.get("username")
    )
    starts_on, ends_on = _day("starts_on"), _day("ends_on")
    if substitute is None or starts_on is None or ends_on is None:
        return _away_page(_("请选择代理人并填写起止日期。"), 422)
    try:
        perform(substitutions.name_substitute, context, substitute, starts_on, ends_on)
    except DomainError as exc:
        return _away_page(exc.message(current_language()), exc.status)
    flash(_("已指定代理人。"), "success")
    return redirect(url_for(".away"))


@bp.post("/away/<int:substitution_id>/end")
@login_required
def end_substitution(substitution_id: int):
    """I am back: end one of my substitutions."""
    perform(substitutions.end_substitution, env(), substitution_id)
    flash(_("代理已结束。"), "success")
    return redirect(url_for(".away"))


@bp.get("/notifications")
@login_required
def notifications():
    """My unread notifications, newest first, in my language, each with where to act."""
    context = env()
    rows = notify.unread(context.session, context.user.id)
    return render_template("inbox/notifications.html", rows=rows, link_of=_link_of)


def _link_of(row) -> str:
    if row.link:
        return row.link
    return url_for("instances.show", instance_id=row.instance_id) if row.instance_id else ""


@bp.post("/notifications/read")
@login_required
def mark_read():
    """Mark the chosen notifications read."""
    ids = [int(v) for v in request.form.getlist("notification_id") if v.isdigit()]
    count = perform(notify.mark_read, env(), ids)
    flash(_("已标记 %(n)s 条为已读。", n=count), "success")
    return redirect(url_for(".notifications"))

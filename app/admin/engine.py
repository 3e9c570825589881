"""The engine for administrators: deployed definitions and their versions, instances with
filters and suspend / resume / terminate, and incidents with retry and cancel."""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.admin import bp, queries
from app.display import departments, process_choices
from app.i18n import current_language
from app.paging import Page, page_number, parse_day
from app.web import env, perform, perform_and_tell, requires
from ledger.errors import DomainError
from workflows import instances as engine
from workflows.identity import Role
from workflows.instances import LIVE
from workflows.models import ENDED, IncidentState, InstanceStatus
from workflows.runtime import get_instance, open_incident_of, open_tasks


@bp.get("/admin/definitions")
@requires(Role.ADMIN)
def definitions():
    """Deployed process and decision versions, with how many instances each process version
    has (linked to the instance list of that version)."""
    session = env().session
    return render_template(
        "admin/definitions.html",
        processes=queries.process_definitions(session),
        counts=queries.instances_per_definition(session),
        decisions=queries.decision_definitions(session),
    )


@bp.get("/admin/instances")
@requires(Role.ADMIN)
def instances():
    """Instances by process, status, department, business key or title, start dates, version;
    latest first, a page at a time."""
    context = env()
    wanted = queries.InstanceFilter(
        process=request.args.get("process", ""),
        status=request.args.get("status", ""),
        department_id=request.args.get("department", type=int),
        key=request.args.get("key", "").strip(),
        since=parse_day(request.args.get("since")),
        until=parse_day(request.args.get("until")),
        definition_id=request.args.get("definition", type=int),
    )
    zone, session = context.config.ledger.zone, context.session
    page = Page(page_number(request.args), queries.count_instances(session, wanted, zone))
    listed = departments(session)
    return render_template(
        "admin/instances.html",
        rows=queries.instance_rows(session, wanted, zone, page.offset, page.size),
        page=page, wanted=wanted, statuses=list(InstanceStatus), departments=listed,
        department_names={d.id: d for d in listed}, processes=process_choices(session),
    )  # fmt: skip


@bp.get("/admin/instances/<int:instance_id>")
@requires(Role.ADMIN)
def instance(instance_id: int):
    """One instance for an administrator: where it stands, and suspend, resume, terminate."""
    session = env().session
    found = get_instance(session, instance_id)
    return render_template(
        "admin/instance.html",
        instance=found,
        tasks=open_tasks(session, instance_id, suspended=True),
        incident=open_incident_of(session, instance_id),
        may_suspend=found.status in (*LIVE, InstanceStatus.INCIDENT),
        may_resume=found.status == InstanceStatus.SUSPENDED,
        may_terminate=found.status not in ENDED,
    )


#: The administrator's actions on an instance: the engine's operation, whether it takes a
#: reason, and what to tell once done.
ACTIONS = {
    "suspend": (engine.suspend, True, _l("申请已挂起。")),
    "resume": (engine.resume, False, _l("申请已恢复。")),
    "terminate": (engine.terminate, True, _l("申请已终止。")),
}


@bp.post("/admin/instances/<int:instance_id>/<any(suspend, resume, terminate):action>")
@requires(Role.ADMIN)
def act_on_instance(instance_id: int, action: str):
    """Suspend or terminate the instance, giving a reason, or resume it."""
    operation, takes_reason, done = ACTIONS[action]
    reason = request.form.get("reason", "").strip()
    if takes_reason and not reason:
        flash(_("请填写原因。"), "error")
        return redirect(url_for("admin.instance", instance_id=instance_id))
    perform_and_tell(operation, env(), instance_id, *((reason,) if takes_reason else ()), done=done)
    return redirect(url_for("admin.instance", instance_id=instance_id))


@bp.get("/admin/incidents")
@requires(Role.ADMIN)
def incidents():
    """Open incidents (every one with ?all=1): error, task, action, attempts."""
    show_all = request.args.get("all") == "1"
    rows = queries.incidents(env().session, open_only=not show_all)
    return render_template("admin/incidents.html", rows=rows, show_all=show_all)


@bp.post("/admin/incidents/<int:incident_id>/retry")
@requires(Role.ADMIN)
def retry_incident(incident_id: int):
    """Run the failed step again; it may fail again (one more attempt is counted)."""
    try:
        incident = perform(engine.retry_incident, env(), incident_id)
    except DomainError as exc:
        flash(exc.message(current_language()), "error")
    else:
        ok = incident.state == IncidentState.RESOLVED
        flash(_("重试成功，申请继续办理。") if ok else _("重试仍然失败，请查看错误信息。"),
              "success" if ok else "error")  # fmt: skip
    return redirect(url_for("admin.incidents"))


@bp.post("/admin/incidents/<int:incident_id>/cancel")
@requires(Role.ADMIN)
def cancel_incident(incident_id: int):
    """Give up on the failed step: the request is terminated, with the reason given."""
    reason = request.form.get("reason", "").strip()
    if not reason:
        flash(_("请填写原因。"), "error")
        return redirect(url_for("admin.incidents"))
    done = _("已放弃该步骤，申请已终止。")
    perform_and_tell(engine.cancel_incident, env(), incident_id, reason, done=done)
    return redirect(url_for("admin.incidents"))

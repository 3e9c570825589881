"""Routes of the instances blueprint: the instance page (data, diagram, timeline, tasks,
files), its BPMN text for the viewer, comments, and attachments up and down.

Whoever may not see a request gets the same 404 as for one that does not exist."""

from io import BytesIO

from flask import Response, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import login_required

from app.i18n import current_language
from app.instances import bp
from app.instances.diagram import diagram_source
from app.instances.page import instance_page
from app.web import env, perform
from ledger.errors import DomainError
from workflows import instances, permissions
from workflows.errors import NotFound
from workflows.models import ProcessInstance
from workflows.webstate import MAX_ATTACHMENT_BYTES, Attachment, attach_file


def visible_instance(instance_id: int) -> ProcessInstance:
    """The instance if the user may see it, else NotFound (existing or not)."""
    context = env()
    instance = context.session.get(ProcessInstance, instance_id)
    if instance is None or not permissions.can_view(context, instance):
        raise NotFound(what_zh="申请", what_en="request", key=instance_id)
    return instance


def _page(instance: ProcessInstance, status: int = 200, **form_state):
    page = instance_page(env(), instance)
    return render_template("instances/show.html", **page, **form_state), status


def _back(instance_id: int, anchor: str):
    return redirect(url_for(".show", instance_id=instance_id, _anchor=anchor))


@bp.get("/instances/<int:instance_id>")
@login_required
def show(instance_id: int):
    """The instance page."""
    return _page(visible_instance(instance_id))


@bp.get("/instances/<int:instance_id>/diagram.xml")
@login_required
def diagram(instance_id: int):
    """The BPMN text of the definition version the instance runs on, for the viewer."""
    source = diagram_source(visible_instance(instance_id))
    if source is None:
        raise NotFound(what_zh="流程图", what_en="diagram", key=instance_id)
    response = Response(source, mimetype="application/xml")
    response.headers["Cache-Control"] = "private, max-age=3600"  # a version never changes
    # Opened directly, XML could carry XHTML script: let it run nothing on this site.
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.post("/instances/<int:instance_id>/comment")
@login_required
def comment(instance_id: int):
    """Add a comment to the request's timeline."""
    instance = visible_instance(instance_id)
    text = request.form.get("comment", "")
    try:
        perform(instances.add_comment, env(), instance.id, text)
    except DomainError as exc:
        return _page(
            instance, exc.status, comment=text, comment_error=exc.message(current_language())
        )
    flash(_("评论已发表。"), "success")
    return _back(instance.id, "timeline")


@bp.post("/instances/<int:instance_id>/attachments")
@login_required
def upload(instance_id: int):
    """Attach a file (at most 5 MB) to the request."""
    instance = visible_instance(instance_id)
    sent = request.files.get("file")
    # One byte more than allowed is enough to tell a file is too large.
    content = sent.stream.read(MAX_ATTACHMENT_BYTES + 1) if sent else b""
    name = sent.filename if sent else ""
    try:
        perform(attach_file, env(), instance, name, content)
    except DomainError as exc:
        return _page(instance, exc.status, upload_error=exc.message(current_language()))
    flash(_("附件已上传。"), "success")
    return _back(instance.id, "files")


@bp.get("/attachments/<int:attachment_id>")
@login_required
def attachment(attachment_id: int):
    """Download a file of a request the user may see."""
    context = env()
    found = context.session.get(Attachment, attachment_id)
    instance = context.session.get(ProcessInstance, found.instance_id) if found else None
    if instance is None or not permissions.can_view(context, instance):
        raise NotFound(what_zh="附件", what_en="attachment", key=attachment_id)
    response = send_file(
        BytesIO(found.content), mimetype=found.content_type, as_attachment=True,
        download_name=found.file_name, max_age=0,
    )  # fmt: skip
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response

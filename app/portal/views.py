"""Starting a request: what the user may file, the start form drawn from its schema (pre-filled
from the query or a draft), filing it, drafts, and a termination roster uploaded as a file."""

from dataclasses import dataclass, field

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.display import department_source
from app.formfields import describe, flat_errors, parse
from app.i18n import current_language
from app.portal import bp
from app.portal.catalog import chosen_department, department_options, fileable, may_file
from app.portal.filing import (
    Filed,
    Submission,
    file_request,
    file_roster_upload,
    read_attachments,
    read_upload,
    roster_errors,
)
from app.portal.subjects import shown_subject
from app.urls import safe_next
from app.web import env, perform
from forms import get_form
from forms.roster import MAX_BYTES as ROSTER_MAX_BYTES
from ledger.errors import DomainError
from workflows import webstate
from workflows.deploy import latest_definition
from workflows.errors import FormInvalid
from workflows.models import ProcessDefinition
from workflows.procedures.termination import PROCESS_ID as TERMINATION
from workflows.procedures.termination import RosterInvalid


@bp.context_processor
def portal_helpers() -> dict:
    """The portal templates' own helper: a draft's subject in the user's language."""
    return {"request_subject": shown_subject}


def _page_token() -> str:
    """The form page's token as posted, else a new one (for a page without one)."""
    return webstate.filing_token(request.form.get("filing_token")) or webstate.new_filing_token()


@dataclass
class StartForm:
    """The start form as the page shows it: values, chosen department, draft, errors, and
    the tokens that let each of its two forms (the fields, a roster) file once."""

    values: dict
    department: str | None = None  # the chosen option's value; None: the first
    draft_id: int | None = None
    errors: dict = field(default_factory=dict)
    message: str = ""
    roster_errors: list = field(default_factory=list)
    roster_note: str = ""
    posted: bool = False
    token: str = field(default_factory=webstate.new_filing_token)
    roster_token: str = field(default_factory=webstate.new_filing_token)


@bp.get("/start")
@login_required
def start_list():
    """The requests the user may file, and their drafts."""
    context = env()
    return render_template(
        "portal/start_list.html",
        definitions=fileable(context.session, context.user),
        drafts=webstate.drafts_of(context),
    )


@bp.get("/drafts")
@login_required
def drafts():
    """The user's drafts, to resume or delete."""
    return render_template("portal/drafts.html", drafts=webstate.drafts_of(env()))


@bp.post("/drafts/<int:draft_id>/delete")
@login_required
def delete_draft(draft_id: int):
    """Delete one of the user's drafts (404 for anyone else's)."""
    perform(webstate.delete_draft, env(), draft_id)
    flash(_("草稿已删除。"), "success")
    return redirect(safe_next(request.form.get("next")) or url_for("portal.drafts"))


@bp.route("/start/<process_id>", methods=["GET", "POST"])
@login_required
def start(process_id: str):
    """GET: the start form, pre-filled from the query (`?card_no=...`) or `?draft=<id>`.
    POST: file it (action=file), save it as a draft (action=draft), or file an uploaded
    termination roster (action=roster)."""
    definition = _definition_to_file(process_id)
    if request.method == "GET":
        return _page(definition, _initial_form(definition))
    action = request.form.get("action", "file")
    if action == "draft":
        return _save_draft(definition)
    if action == "roster" and process_id == TERMINATION:
        return _file_roster(definition)
    return _file(definition)


def _definition_to_file(process_id: str) -> ProcessDefinition:
    definition = latest_definition(env().session, process_id)
    if definition is None or definition.start_form is None:
        abort(404)
    if not may_file(current_user, definition):
        abort(403)
    return definition


def _initial_form(definition: ProcessDefinition) -> StartForm:
    draft_id = request.args.get("draft", type=int)
    if draft_id is None:
        return StartForm(parse(get_form(definition.start_form), request.args))
    draft = webstate.get_draft(env(), draft_id)
    if draft.process_id != definition.process_id:
        abort(404)
    department = "" if draft.department_id is None else str(draft.department_id)
    return StartForm(dict(draft.data), department, draft.id)


def _posted_form(definition: ProcessDefinition) -> StartForm:
    return StartForm(
        parse(get_form(definition.start_form), request.form),
        request.form.get("filing_department", ""),
        request.form.get("draft_id", type=int),
        posted=True,
        token=_page_token(),
    )


def _department(definition: ProcessDefinition, form: StartForm) -> int | None:
    return chosen_department(department_options(current_user, definition), form.department)


def _page(definition: ProcessDefinition, form: StartForm, status: int = 200):
    context = env()
    fields = describe(
        get_form(definition.start_form), form.values, form.errors,
        department_source(context.session),
    )  # fmt: skip
    page = render_template(
        "portal/start.html", definition=definition, form=form, fields=fields,
        options=department_options(context.user, definition),
        roster=definition.process_id == TERMINATION,
    )  # fmt: skip
    return page, status


def _refused(definition: ProcessDefinition, form: StartForm, error: DomainError):
    """The form again, input kept, with why it was refused (beside each field if it can)."""
    if isinstance(error, RosterInvalid):
        form.roster_errors = roster_errors(error)
        form.message = error.message(current_language())
    elif isinstance(error, FormInvalid):
        form.errors = flat_errors(error.errors)
        form.message = _("表单有误，请按字段旁的提示修改后重新提交。")
    else:
        form.message = error.message(current_language())
    return _page(definition, form, error.status)


def _file(definition: ProcessDefinition):
    form = _posted_form(definition)
    try:
        department = _department(definition, form)
        uploads = read_attachments(request.files.getlist("attachments"))
        submission = Submission(form.values, department, uploads, form.draft_id, form.token)
        filed = file_request(env(), definition, submission)
    except DomainError as error:
        return _refused(definition, form, error)
    return _to_request(filed, _("申请已提交，业务编号 %(key)s。", key=filed.instance.business_key))


def _to_request(filed: Filed, done: str):
    """To the request filed, saying `done`; or saying that the page, sent again, filed
    nothing more."""
    if filed.again:
        done = _(
            "该申请已提交（业务编号 %(key)s），未重复提交；如需再提交一份，请重新打开申请表。",
            key=filed.instance.business_key,
        )
    flash(done, "info" if filed.again else "success")
    return redirect(url_for("instances.show", instance_id=filed.instance.id))


def _save_draft(definition: ProcessDefinition):
    form = _posted_form(definition)
    try:
        department = _department(definition, form)
        draft = perform(
            webstate.save_draft, env(), definition.process_id, form.values, department,
            form.draft_id,
        )  # fmt: skip
    except DomainError as error:
        return _refused(definition, form, error)
    flash(_("草稿已保存，可稍后在“发起申请”页继续填写。"), "success")
    return redirect(url_for("portal.start", process_id=definition.process_id, draft=draft.id))


def _file_roster(definition: ProcessDefinition):
    department, note = request.form.get("filing_department", ""), request.form.get("note", "")
    form = StartForm({}, department, roster_note=note, posted=True, roster_token=_page_token())
    try:
        upload = read_upload(request.files.get("roster"), ROSTER_MAX_BYTES)
        department_id = _department(definition, form)
        filed = file_roster_upload(env(), upload, department_id, note, form.roster_token)
    except DomainError as error:
        return _refused(definition, form, error)
    return _to_request(filed, _("名单已提交，业务编号 %(key)s。", key=filed.instance.business_key))

"""What the task page shows of a request: the start form's data as labelled read-only fields,
the audit trail, the attachments, and links to the instance's own pages."""

from datetime import datetime

from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload
from werkzeug.routing import BuildError

from app.engine import engine_config
from app.formfields import ChoiceSource, Field, describe
from app.i18n import pick
from app.inbox.filters import departments
from app.web import env, shown_id_number
from forms import get_form
from workflows import runtime, spiff
from workflows.models import AuditEntry, HumanTask, ProcessInstance
from workflows.webstate import Attachment

#: The audit trail's actions as the task page names them.
ACTION_LABELS = {
    "start": _l("提交申请"),
    "claim": _l("认领"),
    "unclaim": _l("放弃认领"),
    "approve": _l("同意"),
    "reject": _l("驳回"),
    "complete": _l("办理"),
    "sign": _l("加签同意"),
    "return": _l("退回"),
    "resubmit": _l("重新提交"),
    "transfer": _l("转办"),
    "add_signer_before": _l("前加签"),
    "add_signer_after": _l("后加签"),
    "withdraw": _l("撤回"),
    "urge": _l("催办"),
    "copy": _l("抄送"),
    "comment": _l("评论"),
    "suspend": _l("挂起"),
    "resume": _l("恢复"),
    "terminate": _l("终止"),
    "incident": _l("自动处理失败"),
    "retry": _l("重试"),
    "timer": _l("定时事件"),
    "report": _l("上报"),
}


def action_label(action: str) -> str:
    """The audit action `action` in the UI language (the raw name if it has no label)."""
    label = ACTION_LABELS.get(action)
    return str(label) if label is not None else action


def start_data(instance: ProcessInstance) -> dict:
    """The request's start form data as it stands (resubmissions included)."""
    workflow = runtime.open_workflow(env(), instance)
    return dict(spiff.start_task(workflow).data)


def department_choices(session: Session) -> ChoiceSource:
    """Choices for the forms' department fields (`..._department_id`): every department."""
    options = None

    def source(key: str) -> list[tuple[str, str]] | None:
        nonlocal options
        if not key.endswith("department_id"):
            return None
        if options is None:
            options = [(str(d.id), pick(d, "name")) for d in departments(session)]
        return options

    return source


def request_fields(instance: ProcessInstance, data: dict, session: Session) -> list[Field]:
    """The start form's fields filled with `data`, for showing (not editing)."""
    form = instance.definition.start_form
    if not form:
        return []
    return describe(get_form(form), data, source=department_choices(session))


def shown(field: Field) -> str:
    """One field's value as the page shows it: a choice by its label, a box as yes/no, an ID
    number masked as the user may see it."""
    value = field.value
    if field.widget in ("select", "radio"):
        return dict(field.choices).get(str(value), "" if value is None else str(value))
    if field.widget == "checkbox":
        return _("是") if value else _("否")
    if field.name.rpartition(".")[2] == "id_number":
        return shown_id_number(str(value or ""))
    return "" if value is None else str(value)


def filled(field: Field) -> bool:
    """Whether the field (or, for a group or table, any part of it) holds a value."""
    if field.widget == "group":
        return any(filled(child) for child in field.children)
    if field.widget == "table":
        return bool(filled_rows(field))
    return field.value not in (None, "", False, [])


def filled_rows(field: Field) -> list[list[Field]]:
    """A table field's rows that hold a value (not the blank row offered for input)."""
    return [row for row in field.rows if any(filled(cell) for cell in row)]


def history(session: Session, instance_id: int) -> list[AuditEntry]:
    """The instance's audit trail, oldest first, with who acted (and for whom)."""
    query = (
        select(AuditEntry)
        .where(AuditEntry.instance_id == instance_id)
        .options(joinedload(AuditEntry.actor), joinedload(AuditEntry.on_behalf_of))
        .order_by(AuditEntry.seq)
    )
    return list(session.scalars(query).unique())


def step_titles(session: Session, instance_id: int) -> dict[int, str]:
    """{human task id: its title} of the instance's tasks, to name the steps of the trail."""
    query = select(HumanTask.id, HumanTask.title).where(HumanTask.instance_id == instance_id)
    return dict(session.execute(query).all())


def attachments_of(session: Session, instance_id: int) -> list[Attachment]:
    """The files attached to the instance, oldest first."""
    query = select(Attachment).where(Attachment.instance_id == instance_id)
    return list(session.scalars(query.order_by(Attachment.uploaded_at, Attachment.id)))


def _url(endpoint: str, path: str, **values) -> str:
    # The instances pages are another part of the site; until they are registered (in a
    # test app without them, say) the link follows the URL contract.
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return path


def instance_url(instance_id: int) -> str:
    """The instance page's address."""
    return _url("instances.show", f"/instances/{instance_id}", instance_id=instance_id)


def attachment_url(attachment_id: int) -> str:
    """An attachment's download address."""
    return _url(
        "instances.attachment", f"/attachments/{attachment_id}", attachment_id=attachment_id
    )


def campus_time(moment: datetime | None, with_time: bool = True) -> str:
    """`moment` in campus time (Asia/Shanghai), as "2026-11-27 10:00" (or its day only)."""
    if moment is None:
        return ""
    local = moment.astimezone(engine_config().ledger.zone)
    return f"{local:%Y-%m-%d %H:%M}" if with_time else f"{local:%Y-%m-%d}"

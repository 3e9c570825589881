"""The printable request: the start form's data, the decisions taken on it from the audit
trail, and a signature box for the applicant and each step."""

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from app.formfields import Field, describe
from app.i18n import current_language
from app.portal.catalog import department_source
from forms import get_form
from forms.choices import choice_label
from workflows import runtime, spiff
from workflows.context import Env
from workflows.models import AuditEntry, HumanTask, ProcessInstance, TaskKind

#: Audit actions that are someone's decision on a step, with their labels (approve and
#: reject are the forms' choices).
DECISION_LABELS = {
    "approve": None,
    "reject": None,
    "return": _l("退回"),
    "complete": _l("已办理"),
    "sign": _l("加签人同意"),
}


@dataclass(frozen=True)
class Decision:
    """Who decided which step, how, when, with what comment."""

    step: str
    decision: str
    actor: str
    at: datetime
    comment: str


def start_form_fields(env: Env, instance: ProcessInstance) -> list[Field]:
    """The request's start form as filed (or as last resubmitted), with its labels."""
    form = instance.definition.start_form
    if form is None:
        return []
    schema = get_form(form)
    data = spiff.start_task(runtime.open_workflow(env, instance)).data
    values = {key: data[key] for key in schema.fields if key in data}
    return describe(schema, values, None, department_source(env.session))


def decisions(session: Session, instance_id: int) -> list[Decision]:
    """The decisions taken on the request's steps, in the order they were taken."""
    query = (
        select(AuditEntry, HumanTask.title)
        .outerjoin(HumanTask, HumanTask.id == AuditEntry.human_task_id)
        .where(AuditEntry.instance_id == instance_id, AuditEntry.action.in_(DECISION_LABELS))
        .options(joinedload(AuditEntry.actor), joinedload(AuditEntry.on_behalf_of))
        .order_by(AuditEntry.seq)
    )
    return [
        Decision(title or entry.task_name or "", _decision_label(entry.action),
                 _actor(entry), entry.at, entry.comment or "")
        for entry, title in session.execute(query).unique()
    ]  # fmt: skip


def _decision_label(action: str) -> str:
    label = DECISION_LABELS.get(action)
    return str(label) if label is not None else choice_label(action, current_language())


def _actor(entry: AuditEntry) -> str:
    name = entry.actor.display_name if entry.actor else ""
    if entry.on_behalf_of is None:
        return name
    return _("%(name)s（代 %(absent)s）", name=name, absent=entry.on_behalf_of.display_name)


def signature_steps(session: Session, instance_id: int) -> list[str]:
    """The steps that sign the paper form: each step the request went to, once, in order."""
    query = (
        select(HumanTask.title)
        .where(HumanTask.instance_id == instance_id, HumanTask.kind == TaskKind.TASK)
        .order_by(HumanTask.id)
    )
    return list(dict.fromkeys(session.scalars(query)))

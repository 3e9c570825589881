"""The audit timeline of an instance as pages show it: each recorded action under its name in
the UI language, the step it was taken on, and the states it moved the request between."""

from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.display import action_label, state_label, step_title
from workflows.models import AuditEntry, HumanTask


@dataclass(frozen=True)
class Event:
    """One row of the timeline as a page shows it (`at` as stored, in UTC)."""

    seq: int
    at: datetime
    actor: str
    on_behalf_of: str
    action: str
    label: str
    step: str
    comment: str
    before: str
    after: str


def timeline(session: Session, instance_id: int) -> list[Event]:
    """The instance's audit rows in order."""
    query = (
        select(AuditEntry)
        .where(AuditEntry.instance_id == instance_id)
        .options(selectinload(AuditEntry.actor), selectinload(AuditEntry.on_behalf_of))
        .order_by(AuditEntry.seq)
    )
    rows = select(HumanTask.id, HumanTask.title, HumanTask.kind).where(
        HumanTask.instance_id == instance_id
    )
    steps = {key: step_title(title, kind) for key, title, kind in session.execute(rows)}
    return [_event(entry, steps) for entry in session.scalars(query)]


def _event(entry: AuditEntry, steps: dict[int, str]) -> Event:
    return Event(
        seq=entry.seq,
        at=entry.at,
        actor=entry.actor.display_name if entry.actor else str(_l("系统")),
        on_behalf_of=entry.on_behalf_of.display_name if entry.on_behalf_of else "",
        action=entry.action,
        label=action_label(entry.action),
        step=steps.get(entry.human_task_id, ""),
        comment=entry.comment or "",
        before=state_label(entry.state_before),
        after=state_label(entry.state_after),
    )

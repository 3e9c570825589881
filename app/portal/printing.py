"""The printable request: the decisions taken on it (from its audit timeline) and a signature
box for the applicant and each step."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.instances.timeline import Event, timeline
from workflows.models import HumanTask, TaskKind

#: Audit actions that are someone's decision on a step.
DECISIONS = ("approve", "reject", "return", "complete", "sign")


def decisions(session: Session, instance_id: int) -> list[Event]:
    """The decisions taken on the request's steps, in the order they were taken."""
    return [event for event in timeline(session, instance_id) if event.action in DECISIONS]


def signature_steps(session: Session, instance_id: int) -> list[str]:
    """The steps that sign the paper form: each step the request went to, once, in order."""
    query = (
        select(HumanTask.title)
        .where(HumanTask.instance_id == instance_id, HumanTask.kind == TaskKind.TASK)
        .order_by(HumanTask.id)
    )
    return list(dict.fromkeys(session.scalars(query)))

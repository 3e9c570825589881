"""Read-only look-ups for the administration pages."""

from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, aliased, joinedload

from app.paging import campus_span, containing
from workflows.models import (
    ENDED,
    AuditEntry,
    DecisionDefinition,
    Incident,
    IncidentState,
    InstanceStatus,
    ProcessDefinition,
    ProcessInstance,
    Substitution,
    User,
)


def _within(query: Select, column, span) -> Select:
    start, end = span
    if start is not None:
        query = query.where(column >= start)
    if end is not None:
        query = query.where(column < end)
    return query


def _count(session: Session, query: Select) -> int:
    return session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))


def overview(session: Session) -> dict[str, int]:
    """Active users, live requests, suspended ones and open incidents, counted."""
    live = ProcessInstance.status.not_in(ENDED)
    suspended = ProcessInstance.status == InstanceStatus.SUSPENDED
    return {
        "users": session.scalar(select(func.count(User.id)).where(User.active)),
        "live": session.scalar(select(func.count(ProcessInstance.id)).where(live)),
        "suspended": session.scalar(select(func.count(ProcessInstance.id)).where(suspended)),
        "incidents": session.scalar(
            select(func.count(Incident.id)).where(Incident.state == IncidentState.OPEN)
        ),
    }


def users(session: Session, q: str = "") -> list[User]:
    """Users by username (with their grants), whose username or name contains `q`."""
    query = select(User).order_by(User.username)
    if q:
        query = query.where(containing(q, User.username, User.display_name))
    return list(session.scalars(query).unique())


def substitutions(session: Session, today: date, ended_too: bool = False) -> list[Substitution]:
    """Substitutions under way or to come (or every one), soonest first."""
    query = select(Substitution).options(
        joinedload(Substitution.user), joinedload(Substitution.substitute)
    )
    if not ended_too:
        query = query.where(Substitution.ends_on >= today)
    return list(session.scalars(query.order_by(Substitution.starts_on, Substitution.id)).unique())


def process_definitions(session: Session) -> list[ProcessDefinition]:
    """Every deployed process version, by process and newest version first."""
    query = select(ProcessDefinition).order_by(
        ProcessDefinition.process_id, ProcessDefinition.version.desc()
    )
    return list(session.scalars(query))


def instances_per_definition(session: Session) -> dict[int, int]:
    """{definition id: how many instances run (or ran) on that version}."""
    query = select(ProcessInstance.definition_id, func.count()).group_by(
        ProcessInstance.definition_id
    )
    return dict(session.execute(query).all())


def decision_definitions(session: Session) -> list[DecisionDefinition]:
    """Every deployed decision table version, by table and newest version first."""
    query = select(DecisionDefinition).order_by(
        DecisionDefinition.decision_id, DecisionDefinition.version.desc()
    )
    return list(session.scalars(query))


@dataclass(frozen=True)
class InstanceFilter:
    """What the instance list is narrowed to; empty fields do not narrow."""

    process: str = ""
    status: str = ""
    department_id: int | None = None
    key: str = ""
    since: date | None = None
    until: date | None = None
    definition_id: int | None = None


def _instances(wanted: InstanceFilter, zone: ZoneInfo) -> Select:
    query = select(ProcessInstance)
    if wanted.process:
        query = query.where(ProcessInstance.process_id == wanted.process)
    if wanted.status:
        query = query.where(ProcessInstance.status == wanted.status)
    if wanted.department_id:
        query = query.where(ProcessInstance.department_id == wanted.department_id)
    if wanted.definition_id:
        query = query.where(ProcessInstance.definition_id == wanted.definition_id)
    if wanted.key:
        query = query.where(
            containing(wanted.key, ProcessInstance.business_key, ProcessInstance.title)
        )
    span = campus_span(wanted.since, wanted.until, zone)
    return _within(query, ProcessInstance.started_at, span)


def count_instances(session: Session, wanted: InstanceFilter, zone: ZoneInfo) -> int:
    """How many instances `wanted` selects."""
    return _count(session, _instances(wanted, zone))


def instance_rows(
    session: Session, wanted: InstanceFilter, zone: ZoneInfo, offset: int, limit: int
) -> list[ProcessInstance]:
    """One page of the instances `wanted` selects, latest started first."""
    query = (
        _instances(wanted, zone)
        .options(joinedload(ProcessInstance.started_by))
        .order_by(ProcessInstance.started_at.desc(), ProcessInstance.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return list(session.scalars(query).unique())


def incidents(session: Session, open_only: bool = True) -> list[Incident]:
    """Incidents with their instances, latest first; only the open ones unless asked."""
    query = select(Incident).options(joinedload(Incident.instance))
    if open_only:
        query = query.where(Incident.state == IncidentState.OPEN)
    return list(session.scalars(query.order_by(Incident.updated_at.desc()).limit(200)))


@dataclass(frozen=True)
class AuditFilter:
    """What the audit search is narrowed to; empty fields do not narrow."""

    key: str = ""
    actor: str = ""
    action: str = ""
    since: date | None = None
    until: date | None = None


def _audit(wanted: AuditFilter, zone: ZoneInfo) -> Select:
    query = select(AuditEntry, ProcessInstance.business_key).join(
        ProcessInstance, AuditEntry.instance_id == ProcessInstance.id
    )
    if wanted.key:
        query = query.where(containing(wanted.key, ProcessInstance.business_key))
    if wanted.actor:
        actor, behalf = aliased(User), aliased(User)
        names = (actor.username, actor.display_name, behalf.username, behalf.display_name)
        query = (
            query.outerjoin(actor, AuditEntry.actor_id == actor.id)
            .outerjoin(behalf, AuditEntry.on_behalf_of_id == behalf.id)
            .where(containing(wanted.actor, *names))
        )
    if wanted.action:
        query = query.where(AuditEntry.action == wanted.action)
    return _within(query, AuditEntry.at, campus_span(wanted.since, wanted.until, zone))


def count_audit(session: Session, wanted: AuditFilter, zone: ZoneInfo) -> int:
    """How many audit rows `wanted` selects."""
    return _count(session, _audit(wanted, zone))


def audit_rows(
    session: Session, wanted: AuditFilter, zone: ZoneInfo, offset: int, limit: int
) -> list[tuple[AuditEntry, str]]:
    """One page of (audit row, business key), latest first."""
    query = (
        _audit(wanted, zone)
        .options(joinedload(AuditEntry.actor), joinedload(AuditEntry.on_behalf_of))
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return [tuple(row) for row in session.execute(query).unique()]


def audit_actions(session: Session) -> list[str]:
    """Every action the audit trail holds, sorted."""
    return list(session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)))


def business_keys(session: Session, instance_ids: set[int]) -> dict[int, str]:
    """{instance id: business key} of `instance_ids`."""
    if not instance_ids:
        return {}
    query = select(ProcessInstance.id, ProcessInstance.business_key).where(
        ProcessInstance.id.in_(instance_ids)
    )
    return dict(session.execute(query).all())

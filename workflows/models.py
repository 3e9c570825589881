"""The engine's tables: deployed definitions, instances with their serialized state, the
human-task (inbox) table, waiting timers, incidents, the audit trail and notifications."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

import ledger.models  # noqa: F401  (every table on Base.metadata, for migrations)
from ledger.base import Base
from ledger.models.enums import enum_column
from workflows.identity import Role, Substitution, User, utcnow

__all__ = [
    "AuditEntry",
    "DecisionDefinition",
    "HumanTask",
    "Incident",
    "InstanceStatus",
    "Notification",
    "ProcessDefinition",
    "ProcessInstance",
    "Role",
    "Substitution",
    "TaskState",
    "Timer",
    "User",
]

_OPEN = text("state = 'open'")
#: The hash before an instance's first audit row.
GENESIS = "0" * 64


class ProcessDefinition(Base):
    """One deployed version of a BPMN process, with the DMN tables it uses."""

    __tablename__ = "process_definitions"
    __table_args__ = (UniqueConstraint("process_id", "version", name="uq_process_definitions"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str] = mapped_column(String(100))
    version: Mapped[int]
    name: Mapped[str] = mapped_column(String(200))
    file_name: Mapped[str] = mapped_column(String(200))
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    #: {file name: text} of the BPMN file and of every DMN file it was parsed with.
    sources: Mapped[dict] = mapped_column(JSON, deferred=True)
    #: The SpiffWorkflow spec and subprocess specs, as its serializer writes them (read once
    #: per process: see workflows.spiff.load_specs).
    spec: Mapped[dict] = mapped_column(JSON, deferred=True)
    #: {BPMN element id: lane id}: the lane id is the role that acts there.
    lanes: Mapped[dict] = mapped_column(JSON)
    start_form: Mapped[str | None] = mapped_column(String(100))
    #: The lane (role) of the start event.
    start_role: Mapped[str | None] = mapped_column(String(30))
    #: Who may file this request: the start lane's role, and the roles the start event's
    #: `start_roles` property adds (the card office filing at the counter, say).
    start_roles: Mapped[list] = mapped_column(JSON, default=list)
    deployed_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<ProcessDefinition {self.process_id} v{self.version}>"


class DecisionDefinition(Base):
    """One deployed version of a DMN decision table."""

    __tablename__ = "decision_definitions"
    __table_args__ = (UniqueConstraint("decision_id", "version", name="uq_decision_definitions"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    decision_id: Mapped[str] = mapped_column(String(100))
    version: Mapped[int]
    file_name: Mapped[str] = mapped_column(String(200))
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    source: Mapped[str] = mapped_column(Text)
    deployed_at: Mapped[datetime] = mapped_column(default=utcnow)


class InstanceStatus(StrEnum):
    RUNNING = "running"
    RETURNED = "returned"  # back with the submitter, waiting for a resubmission
    SUSPENDED = "suspended"
    INCIDENT = "incident"  # a service action failed; an administrator retries or cancels
    COMPLETED = "completed"
    WITHDRAWN = "withdrawn"
    TERMINATED = "terminated"


ENDED = (InstanceStatus.COMPLETED, InstanceStatus.WITHDRAWN, InstanceStatus.TERMINATED)


class ProcessInstance(Base):
    """A running or finished request: its serialized workflow and what lists show of it.

    `version` is SQLAlchemy's version counter: every UPDATE says WHERE version = :seen, so a
    second writer that loaded the same version fails instead of deciding twice.
    """

    __tablename__ = "process_instances"
    __table_args__ = (
        UniqueConstraint("process_id", "business_key", name="uq_process_instances_key"),
        Index("ix_process_instances_started_by", "started_by_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definitions.id"), index=True)
    process_id: Mapped[str] = mapped_column(String(100))
    business_key: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[InstanceStatus] = enum_column(InstanceStatus, index=True)
    state: Mapped[str] = mapped_column(Text)
    serializer_version: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(default=1)
    started_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    last_urged_at: Mapped[datetime | None]
    #: The earliest timer the instance waits on (the worker's rows are in `timers`).
    next_timer_at: Mapped[datetime | None]
    #: The audit chain's head: the last row's sequence number and hash.
    audit_seq: Mapped[int] = mapped_column(default=0)
    audit_head: Mapped[str] = mapped_column(String(64), default=GENESIS)
    #: A few fields of the start form for lists (requester, amounts ...).
    summary: Mapped[dict] = mapped_column(JSON, default=dict)

    definition: Mapped[ProcessDefinition] = relationship(lazy="joined")
    started_by: Mapped[User] = relationship()

    __mapper_args__ = {"version_id_col": version}

    def __repr__(self) -> str:
        return f"<ProcessInstance {self.id} {self.business_key} {self.status}>"


class TaskState(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    SUSPENDED = "suspended"  # its instance is suspended: out of every inbox until resumed


class TaskKind(StrEnum):
    TASK = "task"  # a BPMN user task
    RESUBMIT = "resubmit"  # a return to the submitter: the start form again


class HumanTask(Base):
    """A task waiting for a person, kept in step with the engine; the inbox reads only this.

    Unassigned open tasks are found by (candidate role, department); assigned ones by
    assignee. Both partial indexes end in (created_at, id), the inbox's order.
    """

    __tablename__ = "human_tasks"
    __table_args__ = (
        Index(
            "ix_human_tasks_open_candidates",
            "candidate_role",
            "candidate_department_id",
            "created_at",
            "id",
            sqlite_where=text("state = 'open' AND assignee_id IS NULL"),
            postgresql_where=text("state = 'open' AND assignee_id IS NULL"),
        ),
        # A grant for every department reads one role's tasks in order, whatever department.
        Index(
            "ix_human_tasks_open_role",
            "candidate_role",
            "created_at",
            "id",
            sqlite_where=text("state = 'open' AND assignee_id IS NULL"),
            postgresql_where=text("state = 'open' AND assignee_id IS NULL"),
        ),
        Index(
            "ix_human_tasks_open_assignee",
            "assignee_id",
            "created_at",
            "id",
            sqlite_where=_OPEN,
            postgresql_where=_OPEN,
        ),
        Index("ix_human_tasks_instance", "instance_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"))
    spiff_task_id: Mapped[str | None] = mapped_column(String(36))
    kind: Mapped[TaskKind] = enum_column(TaskKind, default=TaskKind.TASK)
    task_name: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200))
    lane: Mapped[str | None] = mapped_column(String(100))
    candidate_role: Mapped[Role | None] = enum_column(Role, nullable=True)
    candidate_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: Set when a candidate claimed the task (only a claimed task can be unclaimed).
    claimed_at: Mapped[datetime | None]
    #: 加签 before: who gets the task back once the added signer approves.
    return_to_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    form: Mapped[str | None] = mapped_column(String(100))
    due_at: Mapped[datetime | None]
    state: Mapped[TaskState] = enum_column(TaskState, default=TaskState.OPEN)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    on_behalf_of_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision: Mapped[str | None] = mapped_column(String(20))
    # Summary fields for lists, copied from the instance.
    process_id: Mapped[str] = mapped_column(String(100))
    business_key: Mapped[str] = mapped_column(String(64))
    instance_title: Mapped[str] = mapped_column(String(200))
    requester_name: Mapped[str] = mapped_column(String(100))
    department_name: Mapped[str | None] = mapped_column(String(100))

    instance: Mapped[ProcessInstance] = relationship()

    def __repr__(self) -> str:
        return f"<HumanTask {self.id} {self.task_name} {self.state}>"


class Timer(Base):
    """A timer event an instance waits on, with its due time; the worker fires due ones."""

    __tablename__ = "timers"
    __table_args__ = (Index("ix_timers_due", "due_at", sqlite_where=_OPEN, postgresql_where=_OPEN),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), index=True)
    spiff_task_id: Mapped[str] = mapped_column(String(36))
    task_name: Mapped[str] = mapped_column(String(100))
    due_at: Mapped[datetime]
    state: Mapped[TaskState] = enum_column(TaskState, default=TaskState.OPEN)
    fired_at: Mapped[datetime | None]


class IncidentState(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    CANCELLED = "cancelled"


class Incident(Base):
    """A service action that failed: its error, the task and how often it was tried."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), index=True)
    spiff_task_id: Mapped[str] = mapped_column(String(36))
    task_name: Mapped[str] = mapped_column(String(100))
    action: Mapped[str | None] = mapped_column(String(100))
    error: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=1)
    state: Mapped[IncidentState] = enum_column(IncidentState, default=IncidentState.OPEN)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    instance: Mapped[ProcessInstance] = relationship()


class AuditEntry(Base):
    """One change to an instance. Append-only (triggers refuse UPDATE and DELETE); `hash`
    covers the row and the previous row's hash, so an edit anywhere breaks the chain."""

    __tablename__ = "audit_entries"
    __table_args__ = (UniqueConstraint("instance_id", "seq", name="uq_audit_entries_seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"))
    seq: Mapped[int]
    human_task_id: Mapped[int | None] = mapped_column(ForeignKey("human_tasks.id"))
    task_name: Mapped[str | None] = mapped_column(String(100))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    on_behalf_of_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(30))
    comment: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]
    state_before: Mapped[str | None] = mapped_column(String(300))
    state_after: Mapped[str | None] = mapped_column(String(300))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    #: The X-Request-Id of the web or API request that wrote the row (the same id is in
    #: that request's log lines); None for the worker and CLI jobs unless they set one.
    request_id: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])
    on_behalf_of: Mapped[User | None] = relationship(foreign_keys=[on_behalf_of_id])


class Notification(Base):
    """An in-app message to one user: a new task, a decision, a return, an urge, a copy."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user", "user_id", "read_at", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id"))
    kind: Mapped[str] = mapped_column(String(20))
    text_zh: Mapped[str] = mapped_column(String(500))
    text_en: Mapped[str] = mapped_column(String(500))
    #: Where to act on it when it is not an instance's: a path below the site, such as a
    #: request form to start, pre-filled by its query (`/start/...?card_no=...`).
    link: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]


import workflows.apitokens  # noqa: E402,F401  (personal API tokens)
import workflows.ddl  # noqa: E402,F401  (the audit trail's triggers on create_all)
import workflows.webstate  # noqa: E402,F401  (drafts, saved filters, login attempts)

"""Firing due timers: `flask workflows tick` runs one pass, `flask workflows worker` loops.

Each due instance is handled in its own transaction. On PostgreSQL its timer rows are taken
with FOR UPDATE SKIP LOCKED, so several workers share the work and never take the same
instance; on SQLite the engine's BEGIN IMMEDIATE serializes them. The instance's version
counter is the last guard: a timer fires once.
"""

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from workflows import audit, spiff
from workflows.context import EngineConfig, Env
from workflows.errors import StaleInstance
from workflows.models import InstanceStatus, ProcessInstance, TaskState, Timer
from workflows.runtime import open_workflow, run_engine, save

FIRING = (InstanceStatus.RUNNING,)


def due_instance_ids(session: Session, now: datetime, limit: int = 100) -> list[int]:
    """Instances that can fire a timer due at `now`, earliest first (a snapshot; no locks).
    A suspended instance's due timers wait for it to resume, without filling the batch."""
    query = (
        select(Timer.instance_id, Timer.due_at)
        .join(ProcessInstance, ProcessInstance.id == Timer.instance_id)
        .where(
            text("timers.state = 'open'"),  # inline: the partial index's own predicate
            Timer.due_at <= now,
            ProcessInstance.status.in_(FIRING),
        )
        .order_by(Timer.due_at)
        .limit(limit)
    )
    return list(dict.fromkeys(row.instance_id for row in session.execute(query)))


def fire_instance(env: Env, instance_id: int) -> bool:
    """Fire the instance's due timers and run on; False if another worker has it or nothing
    is due any more. Only flushes."""
    due = (
        select(Timer.id)
        .where(
            Timer.instance_id == instance_id,
            Timer.state == TaskState.OPEN,
            Timer.due_at <= env.now,
        )
        .with_for_update(skip_locked=True)
    )
    if not env.session.scalars(due).first():
        return False
    # OF the instance's table: its definition is joined in (outer), and PostgreSQL locks
    # no nullable side of an outer join.
    lock = {"of": ProcessInstance}
    instance = env.session.get(ProcessInstance, instance_id, with_for_update=lock)
    if instance is None or instance.status not in FIRING:
        return False
    workflow = open_workflow(env, instance)
    before = spiff.status_text(workflow)
    fired = spiff.fire_due_timers(workflow, env.now)
    run_engine(env, instance, workflow)
    save(env, instance, workflow)  # also closes timer rows whose timer is gone
    if not fired:
        return False
    audit.record(env, instance, "timer", before=before, after=spiff.status_text(workflow))
    return True


def tick(
    session_factory: Callable[[], Session],
    now: Callable[[], datetime],
    config: EngineConfig,
    limit: int = 100,
) -> int:
    """One pass: fire every due instance, each in a transaction of its own. Returns how
    many instances moved on."""
    with session_factory() as session:
        ids = due_instance_ids(session, now(), limit)
    fired = 0
    for instance_id in ids:
        with session_factory() as session:
            try:
                with session.begin():
                    fired += fire_instance(Env(session, None, now(), config), instance_id)
            except StaleInstance:
                continue  # another worker fired it first
    return fired

"""Scheduled jobs run once per period, however many nodes start them (see models/jobs.py).

A run claims its (job, period) row first, with INSERT ... ON CONFLICT DO NOTHING, in the same
transaction as the job's work. On PostgreSQL a second node's insert waits on the unique index
until the first transaction ends: if it committed, the second finds the period done; if it
rolled back or its process died, the second claims the period and does the work itself. On
SQLite every transaction takes the write lock first (BEGIN IMMEDIATE), so runs take turns."""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ledger.models.jobs import JobRun

_runs = JobRun.__table__
_CLAIMS = {
    name: insert(_runs).on_conflict_do_nothing().returning(_runs.c.id)
    for name, insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}


def claim_run(session: Session, job: str, period: str, node: str, now: datetime) -> JobRun | None:
    """Claim `job` for `period` in the session's transaction: the new run, or None if another
    run of that period has committed (waiting first for one still in progress)."""
    connection = session.connection()
    row = {"job": job, "period": period, "node": node, "started_at": now, "summary": ""}
    run_id = connection.execute(_CLAIMS[connection.dialect.name], row).scalar()
    return None if run_id is None else session.get(JobRun, run_id)


def find_run(session: Session, job: str, period: str) -> JobRun | None:
    """The committed run of `job` for `period`, if any."""
    return session.scalar(select(JobRun).where(JobRun.job == job, JobRun.period == period))


def finish_run(session: Session, run: JobRun, now: datetime, summary: str) -> None:
    """Note what the run did and when it ended; it commits with the job's work."""
    run.finished_at = now
    run.summary = summary
    session.flush()


def last_runs(session: Session, limit: int) -> list[JobRun]:
    """The `limit` latest runs of every job, newest first."""
    query = select(JobRun).order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(limit)
    return list(session.scalars(query))

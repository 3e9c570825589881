"""The record of the scheduled jobs' runs (expiry, settlement, reminders): one row per job and
period, inserted in the same transaction as the job's work.

The unique (job, period) pair is what makes a job run once however many nodes start it: the
first transaction to insert the pair holds it until it commits, and a rollback (or a crash)
frees it, so no period is ever claimed but not done."""

from datetime import datetime

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ledger.base import Base


class JobRun(Base):
    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job", "period", name="uq_job_runs_period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The job's name, as `flask jobs run NAME` takes it.
    job: Mapped[str] = mapped_column(String(40))
    #: The period it ran for: a campus day, such as "2026-12-07".
    period: Mapped[str] = mapped_column(String(20))
    #: Which process ran it: host name and process id.
    node: Mapped[str] = mapped_column(String(120))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    #: What the job printed.
    summary: Mapped[str] = mapped_column(Text, default="")

    def __repr__(self) -> str:
        return f"<JobRun {self.job} {self.period}>"

"""`flask jobs run NAME | list`: the scheduled jobs, each run at most once per campus day
however many nodes start it (a systemd timer on every app node: deploy/, docs/production.md).

A run claims its (job, day) row and does the job's work in one transaction (ledger/jobs.py):
a second run of the same day, on this node or another, prints that the day's run has happened
and exits 0; a run that fails or dies leaves nothing claimed, so the next attempt does the
work. `flask ledger expire`, `flask ledger settle` and `flask workflows remind-expiring` run
the same functions by hand, without the once-a-day claim."""

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import click
from flask.cli import AppGroup

from app.cli.ledger import expire_job, settle_job
from app.cli.workflows import remind_job
from app.engine import engine_config
from app.extensions import db
from app.uow import unit_of_work
from ledger.jobs import claim_run, find_run, finish_run, last_runs

group = AppGroup("jobs", help="Scheduled jobs, each run once a day however many nodes start it.")


@dataclass(frozen=True)
class Job:
    """A scheduled job: `work(now)` runs in the caller's unit of work and returns the lines to
    print; `schedule` is when deploy/'s timer starts it, on the campus clock."""

    work: Callable[[datetime], list[str]]
    schedule: str
    help: str


JOBS = {
    "expire": Job(expire_job, "daily 00:10", "temporary cards past their expiry expire (R04)"),
    "settle": Job(settle_job, "daily 01:00", "settle merchants whose period has run (R11)"),
    "remind": Job(remind_job, "daily 08:30", "remind of temporary cards expiring soon (R22)"),
}


def node_name() -> str:
    """This process, as a run records it: host name and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _campus(moment: datetime) -> datetime:
    return moment.astimezone(engine_config().ledger.zone)


def run_job(name: str, now: datetime) -> tuple[bool, list[str]]:
    """Run job `name` for the campus day of `now` unless that day's run has committed: (True,
    the job's lines) if it ran, (False, a line saying who ran it) if not."""
    period = _campus(now).date().isoformat()
    with unit_of_work():
        run = claim_run(db.session, name, period, node_name(), now)
        if run is None:
            done = find_run(db.session, name, period)
            return False, [
                f"{name}：{period} 的任务已由 {done.node} 于 {_campus(done.started_at):%H:%M:%S} "
                f"运行，本次不再运行 (already ran for {period})"
            ]
        lines = JOBS[name].work(now)
        finish_run(db.session, run, datetime.now(UTC), "\n".join(lines))
    return True, lines


@group.command("run")
@click.argument("name", type=click.Choice(sorted(JOBS)))
def run(name: str) -> None:
    """Run job NAME for today (campus time), unless today's run has happened on any node."""
    _, lines = run_job(name, datetime.now(UTC))
    click.echo("\n".join(lines))


@group.command("list")
@click.option("--limit", default=20, show_default=True, help="How many runs to show.")
def list_runs(limit: int) -> None:
    """The jobs with their schedule, then the latest runs, newest first (campus time)."""
    for name, job in JOBS.items():
        click.echo(f"{name:<8}{job.schedule:<14}{job.help}")
    click.echo("")
    runs = last_runs(db.session, limit)
    db.session.rollback()
    if not runs:
        click.echo("尚无运行记录 (no runs yet)")
    for done in runs:
        took = (done.finished_at - done.started_at).total_seconds() if done.finished_at else 0
        summary = done.summary.splitlines()[-1] if done.summary else ""
        click.echo(
            f"{done.job:<8}{done.period:<12}{_campus(done.started_at):%Y-%m-%d %H:%M:%S}  "
            f"{took:6.1f}s  {done.node}  {summary[:60]}"
        )

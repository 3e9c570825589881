"""`flask ledger check | expire | settle | refund-batch`: the ledger's jobs."""

import json
from datetime import UTC, datetime

import click
from flask.cli import AppGroup

from app.extensions import db
from app.uow import unit_of_work
from ledger.check import check_ledger
from ledger.context import Ctx
from ledger.ops.cards import expire_cards
from ledger.ops.closing import pay_bank_refunds
from ledger.ops.common import yuan
from ledger.ops.settlement import run_settlement

group = AppGroup("ledger", help="The card ledger's checks and scheduled jobs.")


def job_ctx(now: datetime | None = None) -> Ctx:
    """The context of a command run by the IT centre: the system acts, at `now` (default:
    now)."""
    return Ctx(session=db.session, actor="system:cli", now=now or datetime.now(UTC))


def expire_job(now: datetime) -> list[str]:
    """R04: temporary cards past their expiry become `expired`, in the caller's unit of work;
    returns the lines to print. `flask ledger expire` and `flask jobs run expire` call it."""
    expired = expire_cards(job_ctx(now))
    return [f"到期临时卡 {len(expired)} 张：{' '.join(expired) or '无'}"]


def settle_job(now: datetime) -> list[str]:
    """R11: settle every merchant whose period has run, in the caller's unit of work; returns
    the lines to print. Settling is idempotent per merchant and period, so a daily run is
    right for weekly and other agreed periods alike."""
    results = run_settlement(job_ctx(now))
    lines = [json.dumps(row, ensure_ascii=False) for row in results]
    return [*lines, f"已结算商户 {len(results)} 户"]


def _run_now(job) -> None:
    """Run a job's function once, now, in its own unit of work, and print what it did."""
    with unit_of_work():
        lines = job(datetime.now(UTC))
    click.echo("\n".join(lines))


@group.command("check")
def check() -> None:
    """Rebuild every balance from the journal; exit 1 if any differs."""
    problems = check_ledger(db.session)
    db.session.rollback()
    for problem in problems:
        click.echo(json.dumps(problem, ensure_ascii=False))
    if problems:
        raise click.ClickException(f"账务核对发现 {len(problems)} 处差异")
    click.echo("账务核对通过：所有余额与流水一致。")


@group.command("expire")
def expire() -> None:
    """Move temporary cards past their expiry to `expired` (R04), whether or not this day's
    run has happened (`flask jobs run expire` runs once a day)."""
    _run_now(expire_job)


@group.command("settle")
def settle() -> None:
    """Settle every merchant whose period has run (R11)."""
    _run_now(settle_job)


@group.command("refund-batch")
def refund_batch() -> None:
    """Pay pending bank refunds (graduates, R14) in one batch; those of holders with no bank
    card on file are left out, to be paid in cash at the counter."""
    with unit_of_work():
        batch = pay_bank_refunds(job_ctx())
    click.echo(json.dumps(batch, ensure_ascii=False))
    click.echo(
        f"已退至银行卡 {batch['count']} 笔，合计 {yuan(batch['total'])} 元；"
        f"{batch['without_bank_card']} 笔因持卡人未登记银行卡未列入本批，"
        "请本人到中油大厦A座105室领取现金"
    )

"""`flask workflows deploy | layout | tick | worker | remind-expiring | verify-audit |
bank-batch`: the engine's commands."""

import time
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from lxml import etree
from sqlalchemy.orm import Session

from app.engine import deploy_bpmn, engine_config
from app.extensions import db
from app.uow import unit_of_work
from reports.refunds import bank_refund_batch_csv
from workflows.audit import verify_chains
from workflows.context import Env
from workflows.errors import InvalidBpmn, NotFound
from workflows.layout import lay_out
from workflows.procedures.temporary import remind_expiring_cards
from workflows.procedures.termination import bank_refund_ids
from workflows.timers import tick as tick_once

group = AppGroup(
    "workflows", help="Deploy BPMN, fire timers, verify the audit trail, print bank batches."
)


@group.command("deploy")
def deploy() -> None:
    """Deploy every file of BPMN_DIR: changed files become new versions."""
    try:
        results = deploy_bpmn(current_app._get_current_object())
    except InvalidBpmn as exc:
        raise click.ClickException(exc.message("zh") + "\n" + exc.message("en")) from None
    for result in results:
        click.echo(f"{result.kind} {result.key} v{result.version}: {result.outcome}")


def _tick() -> int:
    engine = db.engine
    return tick_once(lambda: Session(engine), lambda: datetime.now(UTC), engine_config())


@group.command("layout")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False))
def layout(files: tuple[str, ...]) -> None:
    """Rewrite each BPMN file's diagram (BPMNDI) from its process: lanes as bands, left to
    right."""
    for name in files:
        path = Path(name)
        try:
            path.write_bytes(lay_out(path.read_bytes()))
        except (etree.XMLSyntaxError, KeyError, AttributeError) as exc:
            raise click.ClickException(f"{name}: {exc}") from None
        click.echo(f"laid out {name}")


@group.command("tick")
def tick() -> None:
    """Fire every due timer once (for cron)."""
    click.echo(f"fired timers of {_tick()} request(s)")


@group.command("worker")
@click.option("--interval", default=5.0, show_default=True, help="Seconds between passes.")
@click.option("--passes", default=0, help="Stop after this many passes (0: run for ever).")
def worker(interval: float, passes: int) -> None:
    """Fire due timers in a loop; several workers may run at once."""
    done = 0
    while not passes or done < passes:
        fired = _tick()
        if fired:
            click.echo(f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} fired {fired}")
        done += 1
        if not passes or done < passes:
            time.sleep(interval)


def remind_job(now: datetime) -> list[str]:
    """R22: tell departments of temporary cards expiring within 30 days, in the caller's unit
    of work (mail goes after its commit); returns the lines to print. `flask workflows
    remind-expiring` and `flask jobs run remind` call it."""
    reminded = remind_expiring_cards(Env(db.session, None, now, engine_config()))
    return [f"reminded of {len(reminded)} card(s)"]


@group.command("remind-expiring")
def remind_expiring() -> None:
    """Tell departments of temporary cards expiring within 30 days (R22); each card and
    expiry once, however often it runs (`flask jobs run remind` runs once a day)."""
    with unit_of_work():
        lines = remind_job(datetime.now(UTC))
    click.echo("\n".join(lines))


@group.command("verify-audit")
@click.option("--instance", type=int, default=None, help="Only this instance's chain.")
def verify_audit(instance: int | None) -> None:
    """Recompute the audit trail's hash chains; exit 1 if any was tampered with."""
    broken = verify_chains(db.session, instance)
    db.session.rollback()
    for link in broken:
        click.echo(f"instance {link.instance_id} row {link.seq}: {link.reason}")
    if broken:
        raise click.ClickException(f"审计链校验失败：{len(broken)} 处")
    click.echo("审计链校验通过。")


@group.command("bank-batch")
@click.argument("instance_id", type=int)
def bank_batch(instance_id: int) -> None:
    """Print the CSV of a forced termination's bank refund batch (R14), as the settlement
    centre sends it to the bank: `flask workflows bank-batch 42 > batch.csv`."""
    env = Env(db.session, None, datetime.now(UTC), engine_config())
    try:
        text = bank_refund_batch_csv(db.session, bank_refund_ids(env, instance_id))
    except NotFound as exc:
        raise click.ClickException(exc.message("zh") + "\n" + exc.message("en")) from None
    finally:
        db.session.rollback()
    click.echo(text, nl=False)

"""`flask consistency check`: the engine's invariants and the ledger check at once, as after a
crash or a restore: exit 1 if anything is out of step."""

import json
from datetime import UTC, datetime

import click
from flask.cli import AppGroup

from app.extensions import db
from ledger.check import check_ledger
from workflows.consistency import find_inconsistencies

group = AppGroup("consistency", help="Check the engine's and the ledger's invariants.")


@group.command("check")
def check() -> None:
    """No instance stuck between states or out of step with its workflow, no task decided or
    timer fired twice, no due timer left waiting, audit chains whole, balances as the journal
    says; exit 1 otherwise."""
    found = find_inconsistencies(db.session, datetime.now(UTC))
    problems = check_ledger(db.session)
    db.session.rollback()
    for item in found:
        click.echo(f"instance {item.instance_id} {item.rule}: {item.detail}")
    for problem in problems:
        click.echo(json.dumps(problem, ensure_ascii=False))
    if found or problems:
        raise click.ClickException(f"一致性检查发现 {len(found) + len(problems)} 处问题")
    click.echo("一致性检查通过：流程状态、定时器、审计链与账务均一致。")

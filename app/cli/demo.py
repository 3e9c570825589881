"""`flask demo load`: the demo data, then the logins to try it with."""

from datetime import UTC, datetime

import click
from flask import current_app
from flask.cli import AppGroup

from app.demo import demo_logins
from app.demo_requests import load_demo_with_requests
from app.engine import engine_config
from app.extensions import db
from app.uow import unit_of_work

group = AppGroup("demo", help="Demo data for trying the product.")


@group.command("load")
def load() -> None:
    """Load the demo data and file one request of each process (once; a second run only
    prints the logins)."""
    with unit_of_work():
        bpmn_dir = current_app.config["BPMN_DIR"]
        loaded = load_demo_with_requests(db.session, datetime.now(UTC), bpmn_dir, engine_config())
    click.echo("已载入演示数据。" if loaded else "演示数据已存在，未重复载入。")
    click.echo("演示账号（用户名 / 密码 / 角色）：")
    for username, password, role in demo_logins():
        click.echo(f"  {username:<12}{password:<12}{role}")

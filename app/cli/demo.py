"""`flask demo load`: the demo data, then the logins to try it with."""

import click
from flask.cli import AppGroup

from app.demo import demo_logins, load_demo
from app.extensions import db
from app.uow import unit_of_work

group = AppGroup("demo", help="Demo data for trying the product.")


@group.command("load")
def load() -> None:
    """Load the demo data (once; a second run only prints the logins)."""
    with unit_of_work():
        loaded = load_demo(db.session)
    click.echo("已载入演示数据。" if loaded else "演示数据已存在，未重复载入。")
    click.echo("演示账号（用户名 / 密码 / 角色）：")
    for username, password, role in demo_logins():
        click.echo(f"  {username:<12}{password:<12}{role}")

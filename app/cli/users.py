"""`flask users create` and `flask users list`."""

import click
from flask.cli import AppGroup
from sqlalchemy import select

from app.auth.accounts import create_user, parse_role_spec
from app.extensions import db
from app.uow import unit_of_work
from ledger.errors import DomainError
from workflows.identity import User

group = AppGroup("users", help="User accounts and the roles granted to them.")


def _role_spec(_ctx, _param, values: tuple[str, ...]):
    try:
        return [parse_role_spec(value) for value in values]
    except DomainError as error:
        raise click.BadParameter(error.message("zh")) from None


@group.command("create")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--display-name", help="Name shown in the UI (default: USERNAME).")
@click.option(
    "--role",
    "roles",
    multiple=True,
    callback=_role_spec,
    metavar="ROLE[:DEPT_CODE]",
    help="Grant ROLE, for one department or (without :DEPT_CODE) all. Repeatable.",
)
def create(username: str, password: str, display_name: str | None, roles) -> None:
    """Create USERNAME with a hashed password and the given roles."""
    try:
        with unit_of_work():
            user = create_user(db.session, username, password, display_name, roles)
            scopes = [grant.scope for grant in user.grants]
    except DomainError as error:
        raise click.ClickException(error.message("zh")) from None
    click.echo(f"已创建用户 {username}（{', '.join(scopes) or '无角色'}）")


@group.command("list")
def list_users() -> None:
    """List users: username, display name, active or not, roles."""
    for user in db.session.scalars(select(User).order_by(User.username)).unique():
        state = "active" if user.active else "inactive"
        roles = ",".join(grant.scope for grant in user.grants) or "-"
        click.echo(f"{user.username}\t{user.display_name}\t{state}\t{roles}")

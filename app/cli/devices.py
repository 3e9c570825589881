"""`flask devices issue | revoke | list`: the keys POS terminals, metering controllers and
kiosks call the API with (R23). A key is shown once, when it is issued; the IT centre enters
it into the device."""

import click
from flask.cli import AppGroup

from app.cli.ledger import job_ctx
from app.extensions import db
from app.uow import unit_of_work
from ledger.devicekeys import device_keys, issue_device_key, revoke_device_key
from ledger.errors import DomainError

group = AppGroup("devices", help="Device keys of terminals and kiosks for the JSON API.")


@group.command("issue")
@click.option("--terminal", "terminal_code", help="a terminal's code")
@click.option("--kiosk", "kiosk_code", help="a kiosk's code")
def issue(terminal_code: str | None, kiosk_code: str | None) -> None:
    """Issue a new key for a terminal or a kiosk, bound to where it is registered now; the
    device's earlier key stops working."""
    try:
        with unit_of_work():
            key, plain = issue_device_key(
                job_ctx(), terminal_code=terminal_code, kiosk_code=kiosk_code
            )
    except DomainError as exc:
        raise click.ClickException(exc.message("zh")) from exc
    click.echo(f"设备密钥 #{key.id}（仅显示这一次，请录入设备）：{plain}")
    click.echo(f"绑定地点：{key.location}；每次调用须在请求体 location 中说明此地点")


@group.command("revoke")
@click.argument("key_id", type=int)
def revoke(key_id: int) -> None:
    """Revoke a device key by its number."""
    try:
        with unit_of_work():
            revoke_device_key(job_ctx(), key_id)
    except DomainError as exc:
        raise click.ClickException(exc.message("zh")) from exc
    click.echo(f"设备密钥 #{key_id} 已吊销")


@group.command("list")
def list_keys() -> None:
    """Every device key: its number, device, location, since when, whether revoked."""
    for key in device_keys(db.session):
        device = key.terminal.code if key.terminal else key.kiosk.code
        state = f"吊销于 {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "有效"
        click.echo(f"#{key.id}\t{device}\t{key.prefix}…\t{key.location}\t{state}")

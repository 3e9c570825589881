"""Device keys (R23): a POS terminal, metering controller or kiosk calls the API with a key of
its own, bound to the device, its merchant and its location when the key is issued.

A key works only while the device is registered where it was then: a terminal moved to another
place or merchant (which needs the same application as a new one) must be given a new key. In
every call the device states where it stands; a key used anywhere else is refused. A device
holds one live key: issuing a new one revokes the old. Operations only flush."""

import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ledger.context import Ctx
from ledger.errors import DomainError, InvalidInput, NotFound
from ledger.models.devices import DeviceKey
from ledger.models.merchants import Kiosk, KioskKind, Terminal, TerminalKind
from ledger.passwords import hash_secret

KEY_PREFIX = "cct_"
SHOWN_CHARACTERS = 12


class DeviceElsewhere(DomainError):
    """A device key used at a place, or for a merchant, other than the one it was issued for."""

    status = 403
    code = "device_elsewhere"
    zh = "设备 {device} 登记于“{registered}”，不能在“{stated}”使用；迁移或新增终端须重新申请（R23）"
    en = (
        "Device {device} is registered at '{registered}' and cannot be used at '{stated}'; "
        "moving or adding a terminal needs a new application (R23)"
    )


@dataclass(frozen=True)
class Device:
    """The device a key belongs to, as the API needs it."""

    key_id: int
    kind: str  # "terminal" or "kiosk"
    code: str
    device_kind: TerminalKind | KioskKind
    location: str

    @property
    def actor(self) -> str:
        """Who acts in the journal and owns idempotency keys: "terminal:T001"."""
        return f"{self.kind}:{self.code}"


def _find_device(session: Session, terminal_code: str | None, kiosk_code: str | None):
    if (terminal_code is None) == (kiosk_code is None):
        raise InvalidInput(
            reason_zh="须指定终端或圈存机之一", reason_en="name a terminal or a kiosk"
        )
    model, code = (Terminal, terminal_code) if terminal_code else (Kiosk, kiosk_code)
    # Locked: two keys issued at once for one device take turns, and the later revokes the
    # earlier, so the device never holds two live keys.
    device = session.scalar(select(model).where(model.code == code).with_for_update())
    if device is None:
        what_zh, what_en = ("终端", "terminal") if terminal_code else ("圈存机", "kiosk")
        raise NotFound(what_zh=what_zh, what_en=what_en, key=code)
    return device


def issue_device_key(
    ctx: Ctx, *, terminal_code: str | None = None, kiosk_code: str | None = None
) -> tuple[DeviceKey, str]:
    """A new key for the terminal or kiosk, bound to where it is registered now, and its plain
    text (returned this once, never stored). The device's earlier key stops working."""
    device = _find_device(ctx.session, terminal_code, kiosk_code)
    column = DeviceKey.terminal_id if terminal_code else DeviceKey.kiosk_id
    ctx.session.execute(
        update(DeviceKey)
        .where(column == device.id, DeviceKey.revoked_at.is_(None))
        .values(revoked_at=ctx.now)
    )
    plain = KEY_PREFIX + secrets.token_urlsafe(32)
    key = DeviceKey(
        terminal_id=device.id if terminal_code else None,
        kiosk_id=device.id if kiosk_code else None,
        merchant_id=device.merchant_id if terminal_code else None,
        location=device.location, key_hash=hash_secret(plain),
        prefix=plain[:SHOWN_CHARACTERS], issued_at=ctx.now,
    )  # fmt: skip
    ctx.session.add(key)
    ctx.session.flush()
    return key, plain


def revoke_device_key(ctx: Ctx, key_id: int) -> DeviceKey:
    """Revoke a device key; one revoked before keeps its first revocation."""
    key = ctx.session.get(DeviceKey, key_id)
    if key is None:
        raise NotFound(what_zh="设备密钥", what_en="device key", key=str(key_id))
    if key.revoked_at is None:
        key.revoked_at = ctx.now
        ctx.session.flush()
    return key


def device_keys(session: Session) -> list[DeviceKey]:
    """Every device key, newest first."""
    return list(session.scalars(select(DeviceKey).order_by(DeviceKey.id.desc())))


_KEY_VIEW = (
    select(DeviceKey, Terminal, Kiosk)
    .outerjoin(Terminal, DeviceKey.terminal_id == Terminal.id)
    .outerjoin(Kiosk, DeviceKey.kiosk_id == Kiosk.id)
)


def device_of_key(session: Session, plain: str, stated_location: str | None) -> Device | None:
    """The device whose live key `plain` is, None for an unknown or revoked key.

    DeviceElsewhere if the device is no longer registered where and for whom the key was
    issued, or if it states another location than that."""
    if not plain:
        return None
    digest = hash_secret(plain)
    row = session.execute(_KEY_VIEW.where(DeviceKey.key_hash == digest)).first()
    if row is None or row.DeviceKey.revoked_at is not None:
        return None
    key, terminal, kiosk = row
    if not hmac.compare_digest(key.key_hash, digest):
        return None
    registered = terminal or kiosk
    device = Device(
        key.id, "terminal" if terminal else "kiosk", registered.code,
        terminal.kind if terminal else kiosk.kind, key.location,
    )  # fmt: skip
    merchant_now = terminal.merchant_id if terminal else None
    moved = registered.location != key.location or merchant_now != key.merchant_id
    if moved or stated_location != key.location:
        stated = registered.location if moved else stated_location
        raise DeviceElsewhere(device=device.code, registered=key.location, stated=stated)
    return device

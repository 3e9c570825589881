"""Idempotency keys: a replayed request returns the first result; the same key with another
payload is refused (IdempotencyConflict).

The key row is inserted first with ON CONFLICT DO NOTHING. A concurrent duplicate waits on the
key's unique index until the first transaction ends, then finds the committed row and replays
its result, so two terminals retrying at once can never both spend.
"""

import functools
import hashlib
import json

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ledger.context import Ctx
from ledger.errors import IdempotencyConflict, InvalidInput
from ledger.models.money import IdempotencyKey

_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
_keys = IdempotencyKey.__table__
_save_result = (
    update(_keys).where(_keys.c.key == bindparam("claimed_key")).values(result=bindparam("result"))
)


def request_digest(operation: str, args: tuple, kwargs: dict) -> str:
    """A stable hash of what was asked; passwords are left out so that none is derivable."""
    payload = {k: v for k, v in kwargs.items() if "password" not in k}
    text = json.dumps([operation, list(args), payload], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def idempotent(operation: str):
    """Decorate an operation `fn(ctx, *args, **kwargs) -> dict` to take `idempotency_key`."""

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(ctx: Ctx, *args, idempotency_key: str | None = None, **kwargs):
            if idempotency_key is None:
                return fn(ctx, *args, **kwargs)
            digest = request_digest(operation, args, kwargs)
            if not _claim_key(ctx, idempotency_key, operation, digest):
                return _replay(ctx, idempotency_key, operation, digest)
            result = fn(ctx, *args, **kwargs)
            ctx.session.connection().execute(
                _save_result, {"claimed_key": idempotency_key, "result": result}
            )
            return result

        return wrapper

    return decorate


def _claim_key(ctx: Ctx, key: str, operation: str, digest: str) -> bool:
    if not (isinstance(key, str) and 8 <= len(key) <= 80):
        raise InvalidInput(
            reason_zh="幂等键须为 8 至 80 个字符",
            reason_en="an idempotency key has 8 to 80 characters",
        )
    connection = ctx.session.connection()
    insert = _INSERTS[connection.dialect.name](_keys).on_conflict_do_nothing().returning(_keys.c.key)
    row = dict(key=key, operation=operation, request_hash=digest, result={}, created_at=ctx.now)
    return connection.execute(insert, row).scalar() is not None


def _replay(ctx: Ctx, key: str, operation: str, digest: str) -> dict:
    found = ctx.session.execute(
        select(IdempotencyKey.operation, IdempotencyKey.request_hash, IdempotencyKey.result).where(
            IdempotencyKey.key == key
        )
    ).one()
    if found.operation != operation or found.request_hash != digest:
        raise IdempotencyConflict(key=key)
    return found.result

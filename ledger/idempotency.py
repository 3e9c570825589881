"""Idempotency keys: a replayed request returns the first result; the same key with another
payload is refused (IdempotencyConflict).

The key row is inserted first with ON CONFLICT DO NOTHING, before the operation reads or checks
anything. A concurrent duplicate waits on the key's unique index until the first transaction
ends, then finds the committed row and replays its result, so two terminals retrying at once
can never both spend. The operation's result is written into the key row after it has run.

A hot-path operation (purchase) may take both writes inline (`idempotent(..., inline=True)`):
on PostgreSQL its first statement inserts the key (CLAIM_STATUS, ahead of the rows it locks)
and its last write stores the result (Claim.result_rider), so the key costs no round trip of
its own. The order of events, and so every guarantee above, stays the same.
"""

import functools
import hashlib
import inspect
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ledger.context import Ctx
from ledger.errors import DomainError, IdempotencyConflict, InvalidInput
from ledger.models.money import MAX_KEY_LENGTH, IdempotencyKey

_keys = IdempotencyKey.__table__
# Built once: the hot path should not rebuild (and re-key) a statement per request.
_CLAIMS = {
    name: insert(_keys).on_conflict_do_nothing().returning(_keys.c.key)
    for name, insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}
_SAVE_RESULT = (
    update(_keys)
    .where(_keys.c.key == bindparam("claimed_key"))
    .values(result=bindparam("saved_result"))
)
_CLAIM_COLUMNS = ("key", "operation", "request_hash", "result", "created_at")
# One row, `claimed`: 1 if this statement inserted the key, 0 if another transaction holds it.
# An operation claiming inline selects from it, outer-joined to what it reads and locks: the
# aggregate runs the insert (and any wait on the key) before that read. Its parameters are
# named claim_*, unlike any column of idempotency_keys, which they would be written into too.
CLAIM_STATUS = (
    select(func.count().label("claimed"))
    .select_from(
        postgresql.insert(_keys)
        .values({c: bindparam(f"claim_{c}") for c in _CLAIM_COLUMNS})
        .on_conflict_do_nothing()
        .returning(_keys.c.key)
        .cte("claim")
    )
    .subquery("claim_status")
)


@dataclass(frozen=True)
class Claim:
    """An idempotency key handed to an operation that claims it inline.

    `pending` means the operation's first statement must claim it (PostgreSQL, through
    CLAIM_STATUS); otherwise the decorator has claimed it already (SQLite, which has no
    data-modifying CTEs, and whose write lock makes the extra statement cheap)."""

    key: str
    operation: str
    digest: str
    at: datetime
    pending: bool

    def params(self) -> dict:
        """The parameters of CLAIM_STATUS."""
        return {
            "claim_key": self.key,
            "claim_operation": self.operation,
            "claim_request_hash": self.digest,
            "claim_result": {},
            "claim_created_at": self.at,
        }

    def replay(self, ctx: Ctx) -> dict:
        """The first result, when the claim found the key taken."""
        return _replay(ctx, self.key, self.operation, self.digest)

    def result_rider(self, result: dict) -> tuple:
        """The write that stores `result` in the key's row, as a posting rider."""
        return _SAVE_RESULT, {"claimed_key": self.key, "saved_result": result}


def request_digest(operation: str, arguments: dict) -> str:
    """A stable hash of what was asked, by parameter name whether passed by position or by
    keyword; passwords are left out so that none is derivable from the hash."""
    payload = {k: v for k, v in arguments.items() if "password" not in k}
    text = json.dumps([operation, payload], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _arguments(signature: inspect.Signature, args: tuple, kwargs: dict) -> dict:
    bound = signature.bind_partial(None, *args, **kwargs)
    bound.apply_defaults()
    return {k: v for k, v in list(bound.arguments.items())[1:] if k != "claim"}


def idempotent(operation: str, *, inline: bool = False):
    """Decorate an operation `fn(ctx, *args, **kwargs) -> dict` to take `idempotency_key`.

    With `inline`, fn is also given `claim`, a Claim or None when no key was given. Before it
    checks anything, fn claims a pending claim in its first statement and, if the key was
    taken, returns claim.replay(ctx); it stores its result with its last write, as the rider
    claim.result_rider(result). The decorator then writes nothing itself."""

    def decorate(fn):
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def wrapper(ctx: Ctx, *args, idempotency_key: str | None = None, **kwargs):
            if idempotency_key is None:
                return fn(ctx, *args, claim=None, **kwargs) if inline else fn(ctx, *args, **kwargs)
            _check_key(idempotency_key)
            digest = request_digest(operation, _arguments(signature, args, kwargs))
            pending = inline and ctx.session.connection().dialect.name == "postgresql"
            if not pending and not _claim_key(ctx, idempotency_key, operation, digest):
                return _replay(ctx, idempotency_key, operation, digest)
            try:
                if inline:
                    claim = Claim(idempotency_key, operation, digest, ctx.now, pending)
                    return fn(ctx, *args, claim=claim, **kwargs)
                result = fn(ctx, *args, **kwargs)
            except IdempotencyConflict:
                raise  # the key is someone else's
            except DomainError:
                _release_key(ctx, idempotency_key)
                raise
            saved = {"claimed_key": idempotency_key, "saved_result": result}
            ctx.session.connection().execute(_SAVE_RESULT, saved)
            return result

        return wrapper

    return decorate


def _release_key(ctx: Ctx, key: str) -> None:
    """A refused request leaves its key free for a retry, even in a transaction that goes on
    (the unit of work rolls back anyway; a caller catching the error need not)."""
    ctx.session.connection().execute(delete(_keys).where(_keys.c.key == key))


def _check_key(key) -> None:
    if not (isinstance(key, str) and 8 <= len(key) <= MAX_KEY_LENGTH):
        raise InvalidInput(
            reason_zh=f"幂等键须为 8 至 {MAX_KEY_LENGTH} 个字符",
            reason_en=f"an idempotency key has 8 to {MAX_KEY_LENGTH} characters",
        )


def _claim_key(ctx: Ctx, key: str, operation: str, digest: str) -> bool:
    connection = ctx.session.connection()
    row = dict(key=key, operation=operation, request_hash=digest, result={}, created_at=ctx.now)
    return connection.execute(_CLAIMS[connection.dialect.name], row).scalar() is not None


def _replay(ctx: Ctx, key: str, operation: str, digest: str) -> dict:
    found = ctx.session.execute(
        select(IdempotencyKey.operation, IdempotencyKey.request_hash, IdempotencyKey.result).where(
            IdempotencyKey.key == key
        )
    ).one()
    if found.operation != operation or found.request_hash != digest:
        raise IdempotencyConflict(key=key)
    return found.result

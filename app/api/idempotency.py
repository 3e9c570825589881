"""The Idempotency-Key header of the API's money-moving calls.

Every call that moves money (or issues a card) must carry `Idempotency-Key`: a retry with the
same key and the same body returns the first response and moves nothing again; the same key
with another body is refused (422, `idempotency_conflict`). Keys are the caller's own: the
ledger stores them prefixed with who calls, so two terminals can never collide."""

from flask import request

from app.api.auth import caller_id
from app.api.problems import is_api_request
from ledger.errors import DomainError, IdempotencyConflict

HEADER = "Idempotency-Key"
#: How the header is described in the OpenAPI document of a money-moving call.
PARAMETER = {
    "in": "header",
    "name": HEADER,
    "required": True,
    "schema": {"type": "string", "minLength": 8, "maxLength": 64, "pattern": "^[!-~]{8,64}$"},
    "description": "the caller's unique key for this operation; a retry sends the same key",
}


class IdempotencyKeyMissing(DomainError):
    status = 400
    code = "idempotency_key_missing"
    zh = "涉及资金的请求须带 Idempotency-Key 请求头（8 至 64 个字符），重试时使用同一个键"
    en = (
        "A call that moves money needs an Idempotency-Key header (8 to 64 characters); "
        "a retry sends the same key"
    )


class IdempotencyKeyInvalid(DomainError):
    status = 422
    code = "idempotency_key_invalid"
    zh = "Idempotency-Key 须为 8 至 64 个可见 ASCII 字符"
    en = "An Idempotency-Key has 8 to 64 visible ASCII characters"


def idempotency_key() -> str:
    """The ledger's key for this call: the caller's id, a colon and the header's key."""
    key = request.headers.get(HEADER)
    if key is None:
        raise IdempotencyKeyMissing()
    if not (8 <= len(key) <= 64 and key.isascii() and key.isprintable() and " " not in key):
        raise IdempotencyKeyInvalid()
    return f"{caller_id()}:{key}"


def conflict_problem(error: IdempotencyConflict):
    """An IdempotencyConflict as the caller sees it: naming their own key, not the ledger's
    (which starts with who calls)."""
    from app.errors import handle_domain_error  # app.errors imports the API's problems

    if is_api_request():
        error = IdempotencyConflict(key=request.headers.get(HEADER, ""))
    return handle_domain_error(error)

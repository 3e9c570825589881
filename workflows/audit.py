"""The audit trail: one row per change to an instance, chained by hash per instance.

The chain's head (last sequence number and hash) is kept on the instance row, which every
change updates under its version counter: two writers can never append the same `seq`.

Each row also notes the id of the request that wrote it (`REQUEST_ID`, set by the web app for
each request, or by a job that wants one), so that a row leads to that request's log lines.
"""

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.context import Env
from workflows.models import GENESIS, AuditEntry, HumanTask, ProcessInstance

_HASHED = (
    "instance_id", "seq", "human_task_id", "task_name", "actor_id", "on_behalf_of_id",
    "action", "comment", "state_before", "state_after", "details", "prev_hash",
)  # fmt: skip


#: The id of the request (or job) on whose behalf the engine acts now; the app sets it for
#: every web and API request. A context variable, so threads and requests never share one.
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)


@contextmanager
def request_id_scope(request_id: str | None) -> Iterator[None]:
    """Within the block, rows written (and log lines, through the app's log filter) carry
    `request_id`; the previous id is back afterwards."""
    token = REQUEST_ID.set(request_id)
    try:
        yield
    finally:
        REQUEST_ID.reset(token)


def row_hash(entry: AuditEntry) -> str:
    """The SHA-256 of the row's fields and the previous row's hash.

    The request id is hashed only when the row has one: rows written before the column
    existed (and the worker's, without one) hash as they always did, and a request id that
    is there cannot be changed without breaking the chain.
    """
    fields = {name: getattr(entry, name) for name in _HASHED}
    if entry.request_id is not None:
        fields["request_id"] = entry.request_id
    fields["at"] = entry.at.astimezone(UTC).isoformat()
    canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def record(
    env: Env,
    instance: ProcessInstance,
    action: str,
    *,
    task: HumanTask | None = None,
    comment: str | None = None,
    before: str | None = None,
    after: str | None = None,
    on_behalf_of_id: int | None = None,
    details: dict | None = None,
) -> AuditEntry:
    """Append one audit row for `instance` and move the chain's head."""
    entry = AuditEntry(
        instance_id=instance.id,
        seq=instance.audit_seq + 1,
        human_task_id=task.id if task is not None else None,
        task_name=task.task_name if task is not None else None,
        actor_id=env.user.id if env.user is not None else None,
        on_behalf_of_id=on_behalf_of_id,
        action=action,
        comment=comment or None,
        at=env.now.astimezone(UTC),
        state_before=before,
        state_after=after,
        details=details or {},
        request_id=REQUEST_ID.get(),
        prev_hash=instance.audit_head,
    )
    entry.hash = row_hash(entry)
    instance.audit_seq, instance.audit_head = entry.seq, entry.hash
    env.session.add(entry)
    return entry


@dataclass(frozen=True)
class BrokenLink:
    """Where a chain stops holding: the instance, the row's seq and why."""

    instance_id: int
    seq: int
    reason: str


def verify_chains(session: Session, instance_id: int | None = None) -> list[BrokenLink]:
    """Recompute every chain (or one instance's); an empty list means none was tampered with."""
    query = select(AuditEntry).order_by(AuditEntry.instance_id, AuditEntry.seq)
    if instance_id is not None:
        query = query.where(AuditEntry.instance_id == instance_id)
    broken, expected = [], {}
    for entry in session.scalars(query).yield_per(1000):
        seq, prev = expected.get(entry.instance_id, (1, GENESIS))
        if entry.seq != seq:
            broken.append(BrokenLink(entry.instance_id, entry.seq, f"expected seq {seq}"))
        elif entry.prev_hash != prev:
            broken.append(BrokenLink(entry.instance_id, entry.seq, "previous hash differs"))
        elif entry.hash != row_hash(entry):
            broken.append(BrokenLink(entry.instance_id, entry.seq, "row was changed"))
        expected[entry.instance_id] = (entry.seq + 1, entry.hash)
    heads = select(ProcessInstance.id, ProcessInstance.audit_seq, ProcessInstance.audit_head)
    if instance_id is not None:
        heads = heads.where(ProcessInstance.id == instance_id)
    for key, seq, head in session.execute(heads):
        if (seq + 1, head) != expected.get(key, (1, GENESIS)):
            broken.append(BrokenLink(key, seq, "rows missing at the end of the chain"))
    return broken

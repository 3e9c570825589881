"""What the fault suite and bench/load.py check once the load has stopped: the engine's
invariants (workflows.consistency, after a last timer pass), the ledger check, and that every
Idempotency-Key the clients sent moved money once.

The clients keep, per key, the amount and whether a 201 came back: a key may have been sent
several times (a retry after a lost answer), but it names one journal entry at most, and the
entries made during the run are exactly those of the keys answered 201.
"""

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.engine import engine_config
from ledger.check import check_ledger
from ledger.models.journal import EntryKind, JournalEntry
from ledger.models.money import IdempotencyKey
from workflows.consistency import find_inconsistencies
from workflows.timers import tick


def entries_so_far(session: Session, kind: EntryKind) -> int:
    """The last journal entry id of `kind` (0 if none): entries after it are the run's."""
    query = select(func.coalesce(func.max(JournalEntry.id), 0)).where(JournalEntry.kind == kind)
    return session.scalar(query)


def last_timer_pass(session_factory, app) -> int:
    """One more worker pass, as the next worker would make it: how many instances moved."""
    return tick(session_factory, lambda: datetime.now(UTC), engine_config(app))


def key_problems(session: Session, sent: dict[str, tuple[int, bool]], kind: EntryKind,
                 after_id: int) -> list[str]:  # fmt: skip
    """`sent` is {ledger key: (amount, answered 201)}: the keys the clients sent. Each key
    answered 201 names one entry of `kind`, no two keys the same, and the entries of `kind`
    after `after_id` are exactly those, with the amounts sent."""
    rows = session.execute(select(IdempotencyKey.key, IdempotencyKey.result)
                           .where(IdempotencyKey.key.in_(list(sent))))  # fmt: skip
    named = {key: (result or {}).get("entry_id") for key, result in rows}
    made = dict(session.execute(select(JournalEntry.id, JournalEntry.amount)
                                .where(JournalEntry.kind == kind, JournalEntry.id > after_id)
                                ).all())  # fmt: skip
    problems = [f"key {k} answered 201 but names no entry" for k, (_a, ok) in sent.items()
                if ok and named.get(k) not in made]  # fmt: skip
    entries = [named[k] for k, (_a, ok) in sent.items() if ok and named.get(k) in made]
    if len(entries) != len(set(entries)):
        problems.append("two keys name the same entry")
    if set(entries) != set(made):
        problems.append(f"{len(made)} {kind.value} entries made, {len(entries)} keys answered 201")
    expected = sum(amount for amount, ok in sent.values() if ok)
    if expected != sum(made.values()):
        problems.append(f"{kind.value}: {sum(made.values())} fen moved, {expected} answered 201")
    return problems


def all_problems(session: Session, sent_by_kind: dict, baselines: dict) -> list[str]:
    """Every broken invariant, as text: the engine's (with timers due now lost if waiting),
    the ledger's, and the keys' of each entry kind in `sent_by_kind` ({kind: sent})."""
    found = [f"instance {i.instance_id} {i.rule}: {i.detail}"
             for i in find_inconsistencies(session, datetime.now(UTC))]  # fmt: skip
    found += [f"ledger: {p}" for p in check_ledger(session)]
    for kind, sent in sent_by_kind.items():
        found += key_problems(session, sent, kind, baselines[kind])
    return found

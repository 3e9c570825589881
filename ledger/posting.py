"""Posting journal entries and keeping the account balances in step with them."""

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from ledger.context import Ctx
from ledger.models.accounts import AccountKind, LedgerAccount
from ledger.models.journal import EntryKind, JournalEntry, Posting

# (debit account id, credit account id, amount in fen); zero amounts are dropped.
Transfer = tuple[int, int, int]

_accounts = LedgerAccount.__table__
_insert_entry = insert(JournalEntry.__table__).returning(JournalEntry.__table__.c.id)
_insert_posting = insert(Posting.__table__)
_add_to_balance = (
    update(_accounts)
    .where(_accounts.c.id == bindparam("account_id"))
    .values(balance=_accounts.c.balance + bindparam("delta"))
)


def post_entry(
    ctx: Ctx, kind: EntryKind, transfers: Iterable[Transfer], *, amount: int, **refs
) -> int:
    """Append an entry with its postings, move the balances, and return the entry's id.

    `refs` may name card_id, merchant_id, terminal_id, corrects_id and memo. Balances move by
    atomic increments in account-id order, so concurrent entries never deadlock on them; a
    balance that would go below zero where that is forbidden fails the CHECK constraint.
    """
    moves = [t for t in transfers if t[2] != 0]
    if any(t[2] < 0 for t in moves):
        raise ValueError("a posting moves a positive amount; swap debit and credit instead")
    session = ctx.session
    session.flush()  # pending ORM rows the entry may refer to
    connection = session.connection()
    entry_id = connection.execute(
        _insert_entry, dict(kind=kind, at=ctx.now, actor=ctx.actor, amount=amount, **refs)
    ).scalar_one()
    if moves:
        connection.execute(
            _insert_posting,
            [dict(entry_id=entry_id, debit_id=d, credit_id=c, amount=a) for d, c, a in moves],
        )
        _move_balances(session, moves)
    return entry_id


def _move_balances(session: Session, moves: list[Transfer]) -> None:
    deltas: dict[int, int] = defaultdict(int)
    for debit_id, credit_id, amount in moves:
        deltas[debit_id] -= amount
        deltas[credit_id] += amount
    params = [{"account_id": a, "delta": d} for a, d in sorted(deltas.items()) if d]
    session.connection().execute(_add_to_balance, params)
    for account_id in deltas:
        expire_loaded(session, LedgerAccount, account_id, ["balance"])


def expire_loaded(session: Session, model: type, key: int, attributes: list[str]) -> None:
    """After a Core write, make an ORM object already loaded in `session` read it again."""
    loaded = session.identity_map.get((model, (key,), None))
    if loaded is not None:
        session.expire(loaded, attributes)


def system_account(session: Session, kind: AccountKind) -> int:
    """The id of the one system account of `kind`, created on first use."""
    account_id = session.scalar(select(LedgerAccount.id).where(LedgerAccount.code == kind.value))
    if account_id is None:
        account = LedgerAccount(kind=kind, code=kind.value, balance=0)
        session.add(account)
        session.flush()
        account_id = account.id
    return account_id


def new_account(session: Session, kind: AccountKind) -> LedgerAccount:
    """A new empty ledger account of `kind` (purse, transitional, merchant)."""
    account = LedgerAccount(kind=kind, balance=0)
    session.add(account)
    return account

"""Posting journal entries and keeping the account balances in step with them.

On PostgreSQL an entry is posted in one statement: data-modifying CTEs insert the entry and its
postings and move the balances, and they carry the caller's riders (other writes of the same
operation), so all of a purchase's writes cost one round trip. SQLite runs the same writes one
after another under the write lock its transaction began with.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import (
    BigInteger,
    bindparam,
    cast,
    func,
    insert,
    literal_column,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import UpdateBase

from ledger.context import Ctx
from ledger.models.accounts import AccountKind, LedgerAccount
from ledger.models.journal import EntryKind, JournalEntry, Posting

# (debit account id, credit account id, amount in fen); zero amounts are dropped.
Transfer = tuple[int, int, int]
# A write that travels with an entry: a Core UPDATE of a table the entry does not write, and its
# parameters. On PostgreSQL it runs inside the entry's statement, so it must not depend on the
# entry's writes. No parameter may be named like another rider's, like the entry's (entry_*,
# leg_*) or like a column of a table the statement writes (checked when composed).
Rider = tuple[UpdateBase, dict]

_accounts, _entries, _postings = LedgerAccount.__table__, JournalEntry.__table__, Posting.__table__
_REFS = ("card_id", "merchant_id", "terminal_id", "corrects_id", "memo")
_LEG = ("debit_id", "credit_id", "amount")
_insert_entry = insert(_entries).returning(_entries.c.id)
_insert_posting = insert(_postings)
_add_to_balance = (
    update(_accounts)
    .where(_accounts.c.id == bindparam("account_id"))
    .values(balance=_accounts.c.balance + bindparam("delta"))
)


def next_entry_id(dialect_name: str):
    """A column expression that reserves the id of the next journal entry, for an operation
    that must put the id in its result before it posts (post_entry(entry_id=...)).

    PostgreSQL takes it from the sequence. SQLite has none, but its transaction holds the write
    lock from BEGIN IMMEDIATE (ledger.db), so no other writer can take max(id) + 1 first."""
    if dialect_name == "postgresql":
        # Written out rather than bound: the same text each time, no parameters to send.
        sequence = f"pg_get_serial_sequence('{_entries.name}', 'id')"
        return literal_column(f"nextval({sequence})", BigInteger)
    return select(func.coalesce(func.max(_entries.c.id), 0) + 1).scalar_subquery()


def _pg_posting_statement(legs: int, riders: tuple[UpdateBase, ...]):
    """One statement that posts an entry of `legs` postings with the given riders, and returns
    the entry's id.

    Every value is a scalar parameter of a fixed shape, not an array: PostgreSQL then plans the
    prepared statement once (a generic plan) instead of again on every execution. Parameters
    are named entry_* and leg_*; a parameter named like a column of a table the statement
    writes would be set into that column too."""
    values = {c: bindparam(f"entry_{c}") for c in ("kind", "at", "actor", "amount", *_REFS)}
    reserved = bindparam("entry_reserved_id", type_=BigInteger)
    values["id"] = func.coalesce(reserved, next_entry_id("postgresql"))
    entry = insert(_entries).values(values).returning(_entries.c.id).cte("entry")
    rows = [
        select(*(bindparam(f"leg_{c}_{n}", type_=_postings.c[c].type).label(c) for c in _LEG))
        for n in range(legs)
    ]
    rows = (rows[0] if legs == 1 else union_all(*rows)).cte("legs")
    legs_in = (
        insert(_postings)
        .from_select(
            ["entry_id", *_LEG], select(entry.c.id, *rows.c).join_from(entry, rows, true())
        )
        .cte("legs_in")
    )
    statement = select(entry.c.id).add_cte(legs_in, _pg_move_balances(rows))
    statement = statement.add_cte(*(rider.cte(f"rider_{n}") for n, rider in enumerate(riders)))
    written = [_entries, _postings, _accounts, *(rider.table for rider in riders)]
    _check_parameter_names(statement, written)
    return statement


def _pg_move_balances(legs):
    """Move each balance by what the legs take from and give to it; lock the balances first
    in account-id order, as the other path does, so that concurrent entries never deadlock."""
    moves = union_all(
        select(legs.c.debit_id.label("account_id"), (-legs.c.amount).label("delta")),
        select(legs.c.credit_id, legs.c.amount),
    ).subquery("moves")
    deltas = (
        select(moves.c.account_id, cast(func.sum(moves.c.delta), BigInteger).label("delta"))
        .group_by(moves.c.account_id)
        .having(func.sum(moves.c.delta) != literal_column("0"))
        .cte("deltas")
    )
    locked = (
        select(_accounts.c.id)
        .where(_accounts.c.id.in_(select(deltas.c.account_id)))
        .order_by(_accounts.c.id)
        .with_for_update()
        .cte("locked")
    )
    return (
        update(_accounts)
        .values(balance=_accounts.c.balance + deltas.c.delta)
        .where(_accounts.c.id == locked.c.id, locked.c.id == deltas.c.account_id)
        .cte("moved")
    )


def _check_parameter_names(statement, written_tables) -> None:
    names = statement.compile(dialect=postgresql.dialect()).binds.keys()
    clashes = {n for n in names for t in written_tables if n in t.c}
    if clashes:
        raise ValueError(f"parameters named like columns the statement writes: {clashes}")


# By shape (legs, riders): a handful, as operations post a few fixed shapes.
_pg_statements: dict[tuple, object] = {}


def post_entry(
    ctx: Ctx,
    kind: EntryKind,
    transfers: Iterable[Transfer],
    *,
    amount: int,
    entry_id: int | None = None,
    riders: Sequence[Rider] = (),
    **refs,
) -> int:
    """Append an entry with its postings, move the balances, run the riders, and return the
    entry's id.

    `refs` may name card_id, merchant_id, terminal_id, corrects_id and memo; `entry_id` is one
    reserved with next_entry_id. Balances move by atomic increments in account-id order, so
    concurrent entries never deadlock on them; a balance that would go below zero where that
    is forbidden fails the CHECK constraint.
    """
    moves = [t for t in transfers if t[2] != 0]
    if any(t[2] < 0 for t in moves):
        raise ValueError("a posting moves a positive amount; swap debit and credit instead")
    session = ctx.session
    session.flush()  # pending ORM rows the entry may refer to
    params = _entry_params(ctx, kind, amount, refs)
    connection = session.connection()
    if connection.dialect.name == "postgresql" and moves:
        entry_id = _post_in_one_statement(connection, params, entry_id, moves, riders)
    else:
        entry_id = _post_step_by_step(connection, params, entry_id, moves, riders)
    for account_id in {a for move in moves for a in move[:2]}:
        expire_loaded(session, LedgerAccount, account_id, ["balance"])
    return entry_id


def _entry_params(ctx: Ctx, kind: EntryKind, amount: int, refs: dict) -> dict:
    unknown = refs.keys() - set(_REFS)
    if unknown:
        raise TypeError(f"post_entry() got unexpected references {sorted(unknown)}")
    params = dict.fromkeys(_REFS)
    params.update(refs, kind=kind, at=ctx.now, actor=ctx.actor, amount=amount)
    return params


def _deltas(moves: list[Transfer]) -> dict[int, int]:
    """What each account's balance moves by, in account-id order, leaving out net zeros."""
    deltas: dict[int, int] = defaultdict(int)
    for debit_id, credit_id, amount in moves:
        deltas[debit_id] -= amount
        deltas[credit_id] += amount
    return {a: d for a, d in sorted(deltas.items()) if d}


def _post_in_one_statement(connection, params, entry_id, moves, riders) -> int:
    shape = (len(moves), tuple(rider for rider, _ in riders))
    statement = _pg_statements.get(shape)
    if statement is None:
        statement = _pg_statements[shape] = _pg_posting_statement(*shape)
    params = {f"entry_{name}": value for name, value in params.items()}
    params["entry_reserved_id"] = entry_id
    for n, leg in enumerate(moves):
        params.update({f"leg_{c}_{n}": value for c, value in zip(_LEG, leg, strict=True)})
    for _, rider_params in riders:
        if params.keys() & rider_params.keys():
            raise ValueError(f"a rider reuses the names {sorted(params.keys() & rider_params)}")
        params.update(rider_params)
    return connection.execute(statement, params).scalar_one()


def _post_step_by_step(connection, params, entry_id, moves, riders) -> int:
    if entry_id is not None:
        params["id"] = entry_id
    entry_id = connection.execute(_insert_entry, params).scalar_one()
    if moves:
        connection.execute(
            _insert_posting,
            [dict(entry_id=entry_id, debit_id=d, credit_id=c, amount=a) for d, c, a in moves],
        )
    deltas = _deltas(moves)
    if deltas:
        connection.execute(
            _add_to_balance, [{"account_id": a, "delta": d} for a, d in deltas.items()]
        )
    for rider, rider_params in riders:
        connection.execute(rider, rider_params)
    return entry_id


def expire_loaded(session: Session, model: type, key: int, attributes: list[str]) -> None:
    """After a Core write, make an ORM object already loaded in `session` read it again."""
    loaded = session.identity_map.get((model, (key,), None))
    if loaded is not None:
        session.expire(loaded, attributes)


_INSERT_SYSTEM = {
    name: insert(_accounts).on_conflict_do_nothing(index_elements=["code"])
    for name, insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}


def system_account(session: Session, kind: AccountKind) -> int:
    """The id of the one system account of `kind`, created on first use.

    Two transactions creating it at once both succeed: the second waits on the unique code,
    inserts nothing, and reads the first's row."""
    find = select(LedgerAccount.id).where(LedgerAccount.code == kind.value)
    account_id = session.scalar(find)
    if account_id is None:
        connection = session.connection()
        connection.execute(
            _INSERT_SYSTEM[connection.dialect.name],
            {"kind": kind, "code": kind.value, "balance": 0},
        )
        account_id = session.scalar(find)
    return account_id


def new_account(session: Session, kind: AccountKind) -> LedgerAccount:
    """A new empty ledger account of `kind` (purse, transitional, merchant)."""
    account = LedgerAccount(kind=kind, balance=0)
    session.add(account)
    return account

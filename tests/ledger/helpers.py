"""Helpers shared by the ledger tests: balances, look-ups of cards, terminals and journal
entries, the initial password, and `snapshot`, whose value unchanged means nothing was written.

Each look-up takes a ledger context or a bare session (the concurrency tests have only
sessions)."""

from contextlib import contextmanager

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.context import Ctx
from ledger.models.accounts import AccountKind, CardAccount, LedgerAccount
from ledger.models.cards import Card, CardEvent, Delegation
from ledger.models.journal import EntryKind, JournalEntry, Posting
from ledger.models.merchants import Settlement, Terminal
from ledger.models.money import Hold, IdempotencyKey, NetworkFeeWeek, Refund
from ledger.passwords import initial_password

# Every table an operation may add rows to, counted by `snapshot`.
COUNTED = (
    Card,
    CardAccount,
    CardEvent,
    Delegation,
    JournalEntry,
    Posting,
    LedgerAccount,
    Hold,
    IdempotencyKey,
    Refund,
    Settlement,
    NetworkFeeWeek,
)


def session_of(where: Ctx | Session) -> Session:
    return where if isinstance(where, Session) else where.session


def count(where: Ctx | Session, model) -> int:
    """The number of rows of `model`'s table."""
    return session_of(where).scalar(select(func.count()).select_from(model))


def snapshot(session: Session) -> dict:
    """Row counts of every table an operation may write (keyed by table name), every ledger
    balance, every hold's state, every card's state and expiry, and every card account's
    spending and daily limit: unchanged means nothing was written."""

    def rows(*columns) -> list[tuple]:
        return [tuple(row) for row in session.execute(select(*columns).order_by(columns[0]))]

    return {
        **{model.__tablename__: count(session, model) for model in COUNTED},
        "balances": rows(LedgerAccount.id, LedgerAccount.balance),
        "hold_states": rows(Hold.id, Hold.state, Hold.used),
        "card_states": rows(Card.id, Card.state, Card.expires_on),
        "spending": rows(
            CardAccount.id, CardAccount.spent_on, CardAccount.spent_today, CardAccount.daily_limit
        ),
    }


@contextmanager
def writes_nothing(session: Session):
    """Asserts that the `snapshot` after the block is the one before it."""
    before = snapshot(session)
    yield
    assert snapshot(session) == before


# Balances


def balance(where: Ctx | Session, account_id: int) -> int:
    return session_of(where).scalar(
        select(LedgerAccount.balance).where(LedgerAccount.id == account_id)
    )


def system_account_id(where: Ctx | Session, kind: AccountKind) -> int | None:
    """The id of the system account of `kind`; None until the ledger first uses it."""
    return session_of(where).scalar(select(LedgerAccount.id).where(LedgerAccount.code == kind))


def system_balance(where: Ctx | Session, kind: AccountKind) -> int:
    """The balance of the system account of `kind`; 0 until the ledger first uses it."""
    found = session_of(where).scalar(
        select(LedgerAccount.balance).where(LedgerAccount.code == kind)
    )
    return found or 0


def merchant_balance(where: Ctx | Session, terminal_code: str) -> int:
    """The balance of the merchant that owns the terminal."""
    return balance(where, terminal_by_code(where, terminal_code).merchant.account_id)


# Cards and terminals


def card_by_no(where: Ctx | Session, card_no: str) -> Card:
    return session_of(where).scalars(select(Card).where(Card.card_no == card_no)).one()


def last_event(where: Ctx | Session, card_no: str) -> CardEvent:
    """The card's latest state change."""
    return (
        session_of(where)
        .scalars(
            select(CardEvent)
            .join(Card)
            .where(Card.card_no == card_no)
            .order_by(CardEvent.id.desc())
        )
        .first()
    )


def terminal_by_code(where: Ctx | Session, code: str) -> Terminal | None:
    return session_of(where).scalar(select(Terminal).where(Terminal.code == code))


def password_of(card: Card) -> str:
    """The initial query and consumption password: the last six digits of the ID number (R06)."""
    return initial_password(card.person.id_number)


def wrong(password: str) -> str:
    """Another six-digit password."""
    return f"{(int(password) + 1) % 10**6:06d}"


# The journal


def legs(where: Ctx | Session, entry_id: int) -> list[tuple[int, int, int]]:
    """(debit account, credit account, amount) of each posting of the entry."""
    entry = session_of(where).get(JournalEntry, entry_id)
    return sorted((p.debit_id, p.credit_id, p.amount) for p in entry.postings)


def entries(where: Ctx | Session, kind: EntryKind) -> list[int]:
    """The amounts of the journal entries of `kind`, oldest first."""
    return (
        session_of(where)
        .scalars(
            select(JournalEntry.amount).where(JournalEntry.kind == kind).order_by(JournalEntry.id)
        )
        .all()
    )

"""Read-only look-ups for the counter: finding cardholders, a person's cards, account, recent
journal and pending refunds, and the record an operation left. Nothing here locks or writes."""

import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import BigInteger, ColumnElement, case, cast, func, or_, select
from sqlalchemy.orm import Session, joinedload

from ledger.models.accounts import CardAccount
from ledger.models.cards import Card, CardEvent
from ledger.models.journal import EntryKind, JournalEntry, Posting
from ledger.models.merchants import Merchant
from ledger.models.money import IdempotencyKey, Refund, RefundState
from ledger.models.people import Person

#: The last characters of an ID number a clerk may type: 4 to 6, the last one maybe an X.
_ID_SUFFIX = re.compile(r"^\d{3,5}[\dX]$")
#: Digits enough to be worth matching as the start of a card number.
_CARD_PREFIX_MIN = 4


@dataclass
class Cardholder:
    """A person found by a search, with every card they ever held (newest first)."""

    person: Person
    cards: list[Card] = field(default_factory=list)


@dataclass(frozen=True)
class JournalLine:
    """One journal entry of a cardholder: what it moved in and out of their two balances."""

    entry_id: int
    kind: EntryKind
    at: datetime
    actor: str
    amount: int
    card_no: str
    merchant: str | None
    purse_change: int
    transitional_change: int


def _search_conditions(text: str) -> list:
    conditions = [Person.name.contains(text, autoescape=True)]
    if text.isdigit() and len(text) >= _CARD_PREFIX_MIN:
        holders = select(Card.person_id).where(Card.card_no.startswith(text, autoescape=True))
        conditions.append(Person.id.in_(holders))
    suffix = text.upper()
    if _ID_SUFFIX.match(suffix):
        conditions.append(func.upper(Person.id_number).endswith(suffix, autoescape=True))
    return conditions


def find_cardholders(session: Session, text: str, limit: int = 50) -> list[Cardholder]:
    """People whose name contains `text`, who held a card whose number starts with `text`
    (4 digits or more), or whose ID number ends with `text` (4 to 6 characters), by name."""
    text = (text or "").strip()
    if not text:
        return []
    people = session.scalars(
        select(Person)
        .options(joinedload(Person.department))
        .where(or_(*_search_conditions(text)))
        .order_by(Person.name, Person.id)
        .limit(limit)
    ).all()
    found = {person.id: Cardholder(person) for person in people}
    for card in _cards_of_people(session, list(found)):
        found[card.person_id].cards.append(card)
    return list(found.values())


def _cards_of_people(session: Session, person_ids: list[int]) -> list[Card]:
    if not person_ids:
        return []
    query = select(Card).where(Card.person_id.in_(person_ids))
    return list(session.scalars(query.order_by(Card.issued_at.desc(), Card.id.desc())))


def cards_of(session: Session, person_id: int) -> list[Card]:
    """Every card the person held, newest first."""
    return _cards_of_people(session, [person_id])


def card_account_of(session: Session, person_id: int) -> CardAccount | None:
    """The person's card account with its two balances, or None if they never had a card."""
    return session.scalar(
        select(CardAccount)
        .options(joinedload(CardAccount.purse), joinedload(CardAccount.transitional))
        .where(CardAccount.person_id == person_id)
    )


def net_change(account_id: int):
    """SQL: what the postings of an entry moved into (+) or out of (-) one account."""
    moved = case(
        (Posting.credit_id == account_id, Posting.amount),
        (Posting.debit_id == account_id, -Posting.amount),
        else_=0,
    )
    return total(moved)


def total(amount) -> ColumnElement[int]:
    """SQL: the sum of a money column or expression, 0 over no rows, as a bigint (PostgreSQL
    sums bigints as numeric, which Python would read as a Decimal)."""
    return cast(func.coalesce(func.sum(amount), 0), BigInteger)


def recent_journal(session: Session, person_id: int, limit: int = 20) -> list[JournalLine]:
    """The person's last `limit` journal entries (those of any of their cards), newest first,
    each with what it moved on their purse and transitional balance."""
    account = card_account_of(session, person_id)
    if account is None:
        return []
    query = (
        select(
            JournalEntry.id.label("entry_id"),
            JournalEntry.kind,
            JournalEntry.at,
            JournalEntry.actor,
            JournalEntry.amount,
            Card.card_no,
            Merchant.name.label("merchant"),
            net_change(account.purse_id).label("purse_change"),
            net_change(account.transitional_id).label("transitional_change"),
        )
        .join(Card, Card.id == JournalEntry.card_id)
        .outerjoin(Merchant, Merchant.id == JournalEntry.merchant_id)
        .outerjoin(Posting, Posting.entry_id == JournalEntry.id)
        .where(Card.person_id == person_id)
        .group_by(JournalEntry.id, Card.card_no, Merchant.name)
        .order_by(JournalEntry.id.desc())
        .limit(limit)
    )
    return [JournalLine(**row._mapping) for row in session.execute(query)]


def pending_refunds(session: Session, person_id: int) -> list[Refund]:
    """Balances owed back to the person and not yet paid (R14, R19), oldest first."""
    query = select(Refund).where(Refund.person_id == person_id, Refund.state == RefundState.PENDING)
    return list(session.scalars(query.order_by(Refund.id)))


def latest_card_event(session: Session, card_no: str) -> CardEvent | None:
    """The last thing recorded on the card's history (issue, a change of state ...)."""
    return session.scalar(
        select(CardEvent)
        .join(Card, Card.id == CardEvent.card_id)
        .where(Card.card_no == card_no)
        .order_by(CardEvent.id.desc())
        .limit(1)
    )


def idempotency_key_used(session: Session, key: str) -> bool:
    """Whether an operation was carried out with `key` (a retry replays its result)."""
    return session.get(IdempotencyKey, key) is not None

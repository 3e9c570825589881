"""What the ledger recorded of a counter operation, read back for its receipt (回执): the
record that names a receipt (a journal entry if money moved, else a card event), and the facts
around it a receipt shows (the card, the balances as of it, the delegate, the refund). Reads
only."""

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ledger.models.accounts import CardAccount
from ledger.models.cards import Card, CardEvent, Delegation
from ledger.models.journal import JournalEntry, Posting
from ledger.models.money import Refund
from ledger.queries import net_change

#: A receipt's record: its kind in the URL, and the kind of the record.
Record = JournalEntry | CardEvent
KINDS: dict[str, type[Record]] = {"entry": JournalEntry, "event": CardEvent}


def record_of(session: Session, kind: str, ref: int) -> Record | None:
    """The journal entry (`kind` "entry") or card event ("event") numbered `ref`, if any."""
    model = KINDS.get(kind)
    return session.get(model, ref) if model else None


def kind_of(record: Record) -> str:
    """The URL's kind of `record`: "entry" or "event"."""
    return "entry" if isinstance(record, JournalEntry) else "event"


def card_of(session: Session, record: Record) -> Card | None:
    """The card the record is of."""
    return session.get(Card, record.card_id) if record.card_id else None


def latest_event(session: Session, card_no: str, reason: str) -> CardEvent | None:
    """The card's last event recorded with `reason` (an operation's, not a later one's)."""
    query = (
        select(CardEvent)
        .join(Card, Card.id == CardEvent.card_id)
        .where(Card.card_no == card_no, CardEvent.reason == reason)
        .order_by(CardEvent.id.desc())
    )
    return session.scalar(query.limit(1))


def first_event(session: Session, card_id: int, reason: str) -> CardEvent | None:
    """The card's first event recorded with `reason`, if any."""
    query = select(CardEvent).where(CardEvent.card_id == card_id, CardEvent.reason == reason)
    return session.scalar(query.order_by(CardEvent.id).limit(1))


def balances_as_of(session: Session, account: CardAccount, record: Record) -> tuple[int, int]:
    """(purse, transitional) balances of the account just after `record`: the sums of its
    postings in the entries up to an entry, or up to an event's moment (the journal is
    append-only and one account's entries are written one after another, under its lock)."""

    if isinstance(record, JournalEntry):
        up_to = JournalEntry.id <= record.id
    else:
        up_to = JournalEntry.at <= record.at
    ids = (account.purse_id, account.transitional_id)
    query = (
        select(net_change(account.purse_id), net_change(account.transitional_id))
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .where(or_(Posting.credit_id.in_(ids), Posting.debit_id.in_(ids)), up_to)
    )
    purse, transitional = session.execute(query).one()
    return purse, transitional


def paid_from_purse(session: Session, entry: JournalEntry, account: CardAccount) -> bool:
    """Whether the entry took its amount from the account's purse (a fee from the balance)."""
    query = select(Posting.id).where(
        Posting.entry_id == entry.id, Posting.debit_id == account.purse_id
    )
    return session.scalar(query.limit(1)) is not None


def delegate_of(session: Session, event_id: int | None) -> dict | None:
    """The delegate recorded with the card event (R16), as the counter's forms name the
    fields, or None if the holder came."""
    if event_id is None:
        return None
    found = session.scalar(select(Delegation).where(Delegation.card_event_id == event_id))
    if found is None:
        return None
    return {
        "name": found.delegate_name, "id_type": found.delegate_id_type,
        "id_number": found.delegate_id_number, "evidence": found.evidence,
        "evidence_ref": found.evidence_ref,
    }  # fmt: skip


def refund_paid_by(session: Session, entry: JournalEntry) -> Refund | None:
    """The refund the entry paid out, if it is a refund's payout."""
    return session.scalar(select(Refund).where(Refund.payout_entry_id == entry.id))


def refund_of_card(session: Session, card_id: int, reason: str) -> Refund | None:
    """The card's refund owed for `reason` (a cancellation's balance), if any."""
    query = select(Refund).where(Refund.card_id == card_id, Refund.reason == reason)
    return session.scalar(query.order_by(Refund.id.desc()).limit(1))


def recent_receipt_events(session: Session, person_id: int, reasons, limit: int = 20) -> list:
    """The person's last `limit` card events with one of `reasons` (those a counter receipt
    is named by), newest first, each with its card's number: [(event, card_no)]."""
    query = (
        select(CardEvent, Card.card_no)
        .join(Card, Card.id == CardEvent.card_id)
        .where(Card.person_id == person_id, CardEvent.reason.in_(list(reasons)))
        .order_by(CardEvent.id.desc())
        .limit(limit)
    )
    return [tuple(row) for row in session.execute(query)]

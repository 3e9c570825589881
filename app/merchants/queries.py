"""Read-only look-ups for the merchant and settlement pages."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from app.paging import containing
from ledger.models.accounts import CardAccount
from ledger.models.cards import Card
from ledger.models.journal import EntryKind, JournalEntry
from ledger.models.merchants import Merchant, OpenState, Settlement, Terminal
from ledger.models.money import Refund, RefundRoute, RefundState
from ledger.models.people import Department, Person
from ledger.ops.settlement import TURNOVER_KINDS, settlement_due
from ledger.queries import total
from workflows.context import Env
from workflows.errors import NotFound
from workflows.models import ENDED, ProcessInstance
from workflows.procedures.termination import PROCESS_ID as TERMINATION
from workflows.procedures.termination import bank_refund_ids

#: Rows of a merchant's lists (terminals are all shown).
RECENT = 20


@dataclass(frozen=True)
class MerchantFilter:
    """What the merchant list is narrowed to; empty fields do not narrow."""

    q: str = ""
    category: str = ""
    state: str = ""
    department_id: int | None = None


def merchants(session: Session, wanted: MerchantFilter) -> list[Merchant]:
    """Merchants by code, with their supervising departments, as `wanted` narrows them."""
    query = select(Merchant).options(joinedload(Merchant.supervising_department))
    if wanted.q:
        query = query.where(containing(wanted.q, Merchant.code, Merchant.name))
    if wanted.category:
        query = query.where(Merchant.category == wanted.category)
    if wanted.state:
        query = query.where(Merchant.state == wanted.state)
    if wanted.department_id:
        query = query.where(Merchant.supervising_department_id == wanted.department_id)
    return list(session.scalars(query.order_by(Merchant.code)))


def supervising_departments(session: Session) -> list[Department]:
    """The departments that supervise at least one merchant, by code."""
    used = select(Merchant.supervising_department_id)
    return list(
        session.scalars(select(Department).where(Department.id.in_(used)).order_by(Department.code))
    )


def terminals_of(session: Session, merchant_id: int) -> list[Terminal]:
    """The merchant's terminals, by code."""
    query = select(Terminal).where(Terminal.merchant_id == merchant_id).order_by(Terminal.code)
    return list(session.scalars(query))


def settlements_of(session: Session, merchant_id: int, limit: int = 50) -> list[Settlement]:
    """The merchant's settlements, latest period first."""
    query = (
        select(Settlement)
        .where(Settlement.merchant_id == merchant_id)
        .order_by(Settlement.period_end.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def recent_purchases(session: Session, merchant_id: int) -> list[tuple[JournalEntry, int]]:
    """The merchant's latest purchases, each with what adjustments gave back of it so far."""
    purchases = list(
        session.scalars(
            select(JournalEntry)
            .options(joinedload(JournalEntry.card))
            .where(JournalEntry.merchant_id == merchant_id, JournalEntry.kind.in_(TURNOVER_KINDS))
            .order_by(JournalEntry.at.desc(), JournalEntry.id.desc())
            .limit(RECENT)
        )
    )
    given_back = adjusted_amounts(session, [entry.id for entry in purchases])
    return [(entry, given_back.get(entry.id, 0)) for entry in purchases]


def adjusted_amounts(session: Session, entry_ids: list[int]) -> dict[int, int]:
    """{purchase entry id: the sum of the adjustments that corrected it}."""
    if not entry_ids:
        return {}
    rows = session.execute(
        select(JournalEntry.corrects_id, total(JournalEntry.amount))
        .where(JournalEntry.corrects_id.in_(entry_ids), JournalEntry.kind == EntryKind.ADJUSTMENT)
        .group_by(JournalEntry.corrects_id)
    )
    return {entry_id: int(total) for entry_id, total in rows}


def adjustments_of(
    session: Session, merchant_id: int, between: tuple[datetime, datetime] | None = None
) -> list[JournalEntry]:
    """The merchant's adjustments, latest first; with `between`, those made in that span."""
    query = select(JournalEntry).where(
        JournalEntry.merchant_id == merchant_id, JournalEntry.kind == EntryKind.ADJUSTMENT
    )
    if between is not None:
        query = query.where(JournalEntry.at >= between[0], JournalEntry.at < between[1])
    query = query.options(joinedload(JournalEntry.card))
    return list(session.scalars(query.order_by(JournalEntry.at.desc()).limit(RECENT * 5)))


def purchase(session: Session, entry_id: int) -> JournalEntry | None:
    """A purchase (or a metered payment) by its journal entry id, if it is one."""
    entry = session.get(JournalEntry, entry_id)
    return entry if entry is not None and entry.kind in TURNOVER_KINDS else None


@dataclass(frozen=True)
class DueMerchant:
    """A merchant the next settlement run will settle, and the days it will cover."""

    merchant: Merchant
    period_start: date
    period_end: date


def due_merchants(session: Session, today: date) -> list[DueMerchant]:
    """The open merchants whose settlement period has run by `today`, as the ledger's
    `run_settlement` decides it (`settlement_due`)."""
    query = select(Merchant).where(Merchant.state == OpenState.ACTIVE).order_by(Merchant.id)
    return [
        DueMerchant(m, m.settled_through + timedelta(days=1), today - timedelta(days=1))
        for m in session.scalars(query)
        if settlement_due(m, today)
    ]


def _settlements(merchant_code: str, *columns):
    """Settlements (of one merchant, by code), as entities or as `columns`."""
    query = select(*(columns or (Settlement,))).join(
        Merchant, Settlement.merchant_id == Merchant.id
    )
    return query.where(Merchant.code == merchant_code) if merchant_code else query


def count_settlements(session: Session, merchant_code: str = "") -> int:
    """How many settlements there are (of one merchant, by code)."""
    return session.scalar(select(func.count()).select_from(_settlements(merchant_code).subquery()))


def settlement_rows(
    session: Session, merchant_code: str = "", offset: int = 0, limit: int = 50
) -> list[Settlement]:
    """Settlements (of one merchant, by code), latest run first, with their merchants."""
    query = (
        _settlements(merchant_code)
        .options(joinedload(Settlement.merchant))
        .order_by(Settlement.created_at.desc(), Merchant.code)
        .offset(offset)
        .limit(limit)
    )
    return list(session.scalars(query))


@dataclass(frozen=True)
class RunTotals:
    """A settlement run's statements counted and summed (fen)."""

    statements: int
    payout: int
    fee: int


def run_totals(
    session: Session, runs: Iterable[datetime], merchant_code: str = ""
) -> dict[datetime, RunTotals]:
    """{run: its totals} for the runs named by their time (a run's statements share it), over
    every statement of the run (of one merchant, by code), not only those of a page; one
    statement."""
    runs = sorted(set(runs))
    if not runs:
        return {}
    query = _settlements(
        merchant_code,
        Settlement.created_at,
        func.count(Settlement.id),
        total(Settlement.payout),
        total(Settlement.fee),
    )
    query = query.where(Settlement.created_at.in_(runs)).group_by(Settlement.created_at)
    return {at: RunTotals(n, payout, fee) for at, n, payout, fee in session.execute(query)}


@dataclass(frozen=True)
class PendingRefund:
    """A bank refund waiting to be paid, with its holder and the bank card it goes to."""

    refund: Refund
    card_no: str
    person: Person
    bank_card_no: str | None


def pending_bank_refunds(
    session: Session, refund_ids: list[int] | None = None
) -> list[PendingRefund]:
    """Pending bank refunds (R14) by id, or those of `refund_ids` among them."""
    query = (
        select(Refund, Card.card_no, Person, CardAccount.bank_card_no)
        .join(Card, Refund.card_id == Card.id)
        .join(Person, Refund.person_id == Person.id)
        .join(CardAccount, Card.card_account_id == CardAccount.id)
        .where(Refund.route == RefundRoute.BANK, Refund.state == RefundState.PENDING)
        .order_by(Refund.id)
    )
    if refund_ids is not None:
        query = query.where(Refund.id.in_(refund_ids))
    return [PendingRefund(*row) for row in session.execute(query)]


def refunds_held_by_requests(env: Env) -> dict[int, ProcessInstance]:
    """{refund id: the forced termination request whose own bank batch holds it}. Those are
    confirmed in that request's task, not in a batch put together here."""
    query = select(ProcessInstance).where(
        ProcessInstance.process_id == TERMINATION, ProcessInstance.status.not_in(ENDED)
    )
    held = {}
    for instance in env.session.scalars(query):
        try:
            ids = bank_refund_ids(env, instance.id)
        except NotFound:
            continue  # no card of it ended yet
        held.update(dict.fromkeys(ids, instance))
    return held

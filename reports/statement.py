"""A cardholder's statement (校园卡对账单) for a range of campus days: who they are, their
cards, the balance at the start, every journal entry that moved their money in the range with
the balance after it, the totals in and out and the balance at the end. The purse (卡内余额)
and the transitional balance (过渡余额, WeChat top-ups not yet claimed) are shown apart when
the transitional one was used.

The statement sums the postings on the holder's two ledger accounts: the balance at the start
is every posting dated before the first day, each line an entry dated in the range. So the
opening balance plus what came in less what went out is the closing balance, which is the
ledger's own balance as of the end of the range."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from marshmallow import Schema, fields
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ledger.errors import DomainError, NotFound
from ledger.models.accounts import CardAccount
from ledger.models.journal import EntryKind, JournalEntry, Posting
from ledger.models.merchants import Merchant, Terminal
from ledger.models.people import Person
from ledger.queries import card_account_of, cards_of, net_change
from reports.formats import CampusDateTime, Yuan, ZhDate
from reports.pdf import Document

#: The statement covers the last DEFAULT_DAYS days unless asked otherwise, MAX_DAYS at most.
DEFAULT_DAYS = 30
MAX_DAYS = 366


class InvalidPeriod(DomainError):
    """The days asked for are no range a statement covers."""

    status = 400
    code = "invalid_statement_period"
    zh = "对账期间无效：{reason_zh}"
    en = "Invalid statement period: {reason_en}"


def _day(text: str | None, name: str) -> date | None:
    """The ISO day `text` (YYYY-MM-DD), None if empty; InvalidPeriod if it is no day."""
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidPeriod(
            reason_zh=f"“{text}”不是 YYYY-MM-DD 格式的日期",
            reason_en=f"{name} “{text}” is not a YYYY-MM-DD date",
        ) from None


def statement_period(first: str | None, last: str | None, today: date) -> tuple[date, date]:
    """The campus days (first, last), inclusive, that a statement asked for with `from` and
    `to` covers: through `today` and DEFAULT_DAYS long where they are left empty.
    InvalidPeriod if either is no day, the range ends before it starts or is longer than
    MAX_DAYS."""
    end = _day(last, "to") or today
    start = _day(first, "from") or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise InvalidPeriod(
            reason_zh=f"起始日期 {start} 晚于截止日期 {end}",
            reason_en=f"the first day {start} is after the last day {end}",
        )
    if (end - start).days + 1 > MAX_DAYS:
        raise InvalidPeriod(
            reason_zh=f"最长 {MAX_DAYS} 天，所选为 {(end - start).days + 1} 天",
            reason_en=f"at most {MAX_DAYS} days, {(end - start).days + 1} asked for",
        )
    return start, end


@dataclass(frozen=True)
class Balances:
    """A cardholder's two balances (fen) at one moment."""

    purse: int
    transitional: int

    @property
    def total(self) -> int:
        """What the holder has: the purse and the transitional balance."""
        return self.purse + self.transitional

    def after(self, purse_change: int, transitional_change: int) -> "Balances":
        """The balances once an entry moved these amounts."""
        return Balances(self.purse + purse_change, self.transitional + transitional_change)


@dataclass(frozen=True)
class Movement:
    """A journal entry that moved the holder's money: what it moved on each balance."""

    entry_id: int
    at: datetime
    kind: EntryKind
    merchant: str | None
    terminal: str | None
    purse_change: int
    transitional_change: int


def _touches(account: CardAccount):
    """SQL: the posting debits or credits the holder's purse or transitional account."""
    ids = (account.purse_id, account.transitional_id)
    return or_(Posting.debit_id.in_(ids), Posting.credit_id.in_(ids))


def balances_before(session: Session, account: CardAccount, moment: datetime) -> Balances:
    """The account's balances just before `moment`: the sum of its postings dated earlier."""
    query = (
        select(net_change(account.purse_id), net_change(account.transitional_id))
        .select_from(Posting)
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .where(_touches(account), JournalEntry.at < moment)
    )
    purse, transitional = session.execute(query).one()
    return Balances(int(purse), int(transitional))  # PostgreSQL sums as Decimal


def movements(
    session: Session, account: CardAccount, span: tuple[datetime, datetime]
) -> list[Movement]:
    """The entries dated from span[0] up to span[1] that moved the account's money, in the
    order the journal recorded them, with their terminal and its merchant if any."""
    # A claim at a POS names the terminal only: its merchant is the terminal's.
    merchant_id = func.coalesce(JournalEntry.merchant_id, Terminal.merchant_id)
    query = (
        select(
            JournalEntry.id, JournalEntry.at, JournalEntry.kind, Merchant.name, Terminal.code,
            net_change(account.purse_id), net_change(account.transitional_id),
        )  # fmt: skip
        .join(Posting, Posting.entry_id == JournalEntry.id)
        .outerjoin(Terminal, Terminal.id == JournalEntry.terminal_id)
        .outerjoin(Merchant, Merchant.id == merchant_id)
        .where(_touches(account), JournalEntry.at >= span[0], JournalEntry.at < span[1])
        .group_by(JournalEntry.id, Merchant.name, Terminal.code)
        .order_by(JournalEntry.id)
    )
    return [
        Movement(*row[:5], int(purse), int(transitional))  # PostgreSQL sums as Decimal
        for *row, purse, transitional in session.execute(query)
    ]


def _line(movement: Movement, balances: Balances, kind_label: Callable[[EntryKind], str]):
    """A row of the statement: the entry, what it brought in or took out, the balances
    after it."""
    net = movement.purse_change + movement.transitional_change
    place = " ".join(part for part in (movement.merchant, movement.terminal) if part)
    return {
        "at": movement.at, "kind": kind_label(movement.kind), "place": place,
        "amount_in": net if net > 0 else None, "amount_out": -net if net < 0 else None,
        "after": balances,
    }  # fmt: skip


def cardholder_statement(
    session: Session,
    person: Person,
    days: tuple[date, date],
    zone: ZoneInfo,
    kind_label: Callable[[EntryKind], str],
) -> dict:
    """The statement's data for the campus days `days` (first, last; inclusive, in `zone`),
    each entry's kind named by `kind_label`. NotFound if the person never had a card."""
    account = card_account_of(session, person.id)
    if account is None:
        raise NotFound(what_zh="校园卡账户", what_en="card account", key=person.name)
    start = datetime.combine(days[0], time(0), tzinfo=zone)
    end = datetime.combine(days[1] + timedelta(days=1), time(0), tzinfo=zone)
    opening = balances = balances_before(session, account, start)
    lines = []
    for movement in movements(session, account, (start, end)):
        balances = balances.after(movement.purse_change, movement.transitional_change)
        lines.append(_line(movement, balances, kind_label))
    total_in = sum(line["amount_in"] or 0 for line in lines)
    total_out = sum(line["amount_out"] or 0 for line in lines)
    return {
        "name": person.name, "masked_id": person.masked_id,
        "department": person.department.name_zh,
        "cards": [card.card_no for card in cards_of(session, person.id)],
        "first": days[0], "last": days[1], "opening": opening, "closing": balances,
        "total_in": total_in, "total_out": total_out, "lines": lines,
        "with_transitional": bool(
            opening.transitional or balances.transitional
            or any(line["after"].transitional for line in lines)
        ),
    }  # fmt: skip


def statement_reference(person_id: int, days: tuple[date, date]) -> str:
    """What names a statement on paper: the holder's number and the range's two days."""
    return f"{person_id}-{days[0]:%Y%m%d}-{days[1]:%Y%m%d}"


class BalancesSchema(Schema):
    purse = Yuan()
    transitional = Yuan()
    total = Yuan()


class LineSchema(Schema):
    at = CampusDateTime()
    kind = fields.String()
    place = fields.String()
    amount_in = Yuan()
    amount_out = Yuan()
    after = fields.Nested(BalancesSchema)


class StatementSchema(Schema):
    name = fields.String()
    masked_id = fields.String()
    department = fields.String()
    cards = fields.List(fields.String())
    first = ZhDate()
    last = ZhDate()
    opening = fields.Nested(BalancesSchema)
    closing = fields.Nested(BalancesSchema)
    total_in = Yuan()
    total_out = Yuan()
    lines = fields.List(fields.Nested(LineSchema))
    with_transitional = fields.Boolean()


STATEMENT = Document("statement.html", "校园卡对账单", StatementSchema())

"""Ledger accounts (one balance each) and the cardholder's account that owns two of them."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ledger.base import Base
from ledger.models.enums import enum_column
from ledger.models.people import Person


class AccountKind(StrEnum):
    PURSE = "purse"  # a cardholder's spendable balance
    TRANSITIONAL = "transitional"  # 过渡余额: WeChat top-ups not yet written to the card (R09)
    MERCHANT = "merchant"  # what the card office owes a merchant until settlement (R11)
    HOLDS = "holds"  # pre-deductions in flight at water and shower controllers (R10)
    CARD_FEES = "card_fees"  # 工本费 income (R03)
    MANAGEMENT_FEES = "management_fees"  # 0.5% of commercial turnover (R11)
    NETWORK_FEES = "network_fees"  # 网费 income (R26)
    REFUNDS = "refunds"  # balances owed back to former holders (R14, R19)
    CASH = "cash"  # counter cash drawer: money from or to the outside world
    BANK = "bank"  # bank transfers in (圈存) and payouts out
    WECHAT = "wechat"  # WeChat enterprise account top-ups


# Money enters and leaves the closed ledger only through these.
EXTERNAL_KINDS = (AccountKind.CASH, AccountKind.BANK, AccountKind.WECHAT)
# These may go negative: the outside world, and a merchant who owes the office after an
# adjustment larger than what it held (R11); every cardholder balance stays >= 0 (R08).
MAY_GO_NEGATIVE = (*EXTERNAL_KINDS, AccountKind.MERCHANT)
SYSTEM_KINDS = (
    AccountKind.HOLDS,
    AccountKind.CARD_FEES,
    AccountKind.MANAGEMENT_FEES,
    AccountKind.NETWORK_FEES,
    AccountKind.REFUNDS,
    *EXTERNAL_KINDS,
)
_negative_sql = ", ".join(f"'{k.value}'" for k in MAY_GO_NEGATIVE)


class LedgerAccount(Base):
    """One balance in the double-entry journal: credits minus debits of its postings."""

    __tablename__ = "ledger_accounts"
    __table_args__ = (
        CheckConstraint(f"balance >= 0 OR kind IN ({_negative_sql})", name="non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[AccountKind] = enum_column(AccountKind)
    code: Mapped[str | None] = mapped_column(String(40), unique=True)  # system accounts only
    balance: Mapped[int] = mapped_column(BigInteger, default=0)

    def __repr__(self) -> str:
        return f"<LedgerAccount {self.id} {self.kind} {self.balance}>"


class CardAccount(Base):
    """A cardholder's account: carried from card to card on reissue (R15).

    Holds the purse and transitional balances, the daily limit and what was spent today
    (R07), the two password hashes (R06) and the bound bank card (R09). Every change to a
    cardholder's money first locks this row.
    """

    __tablename__ = "card_accounts"
    __table_args__ = (
        CheckConstraint("daily_limit >= 0", name="daily_limit_non_negative"),
        CheckConstraint("spent_today >= 0", name="spent_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), unique=True)
    purse_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), unique=True)
    transitional_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), unique=True)
    daily_limit: Mapped[int]
    spent_on: Mapped[date | None]
    spent_today: Mapped[int] = mapped_column(default=0)
    query_password_hash: Mapped[str] = mapped_column(String(200))
    consume_password_hash: Mapped[str] = mapped_column(String(200))
    bank_card_no: Mapped[str | None] = mapped_column(String(19))
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]

    person: Mapped[Person] = relationship()
    purse: Mapped[LedgerAccount] = relationship(foreign_keys=[purse_id])
    transitional: Mapped[LedgerAccount] = relationship(foreign_keys=[transitional_id])


def spent_on_day(account, day: date) -> int:
    """What a card account (or a row with its columns) spent by purchases on `day`."""
    return account.spent_today if account.spent_on == day else 0

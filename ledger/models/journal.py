"""The append-only journal: entries made of postings.

A posting moves a positive amount from one account (debit) to another (credit), so the legs of
every entry sum to zero by construction, not by a check someone could skip. An account's
balance is the sum of its credits minus the sum of its debits.
"""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ledger.base import Base
from ledger.models.enums import enum_column


class EntryKind(StrEnum):
    CARD_FEE = "card_fee"
    TOPUP_CASH = "topup_cash"
    TOPUP_BANK = "topup_bank"
    TOPUP_WECHAT = "topup_wechat"
    CLAIM_TRANSITIONAL = "claim_transitional"
    PURCHASE = "purchase"
    HOLD = "hold"
    HOLD_SETTLE = "hold_settle"
    NETWORK_FEE = "network_fee"
    CLOSE_ACCOUNT = "close_account"
    REFUND_PAYOUT = "refund_payout"
    SETTLEMENT = "settlement"
    ADJUSTMENT = "adjustment"


class JournalEntry(Base):
    __tablename__ = "journal_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[EntryKind] = enum_column(EntryKind)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(100))
    amount: Mapped[int] = mapped_column(BigInteger)
    card_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"), index=True)
    merchant_id: Mapped[int | None] = mapped_column(ForeignKey("merchants.id"), index=True)
    terminal_id: Mapped[int | None] = mapped_column(ForeignKey("terminals.id"))
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"), index=True)
    memo: Mapped[str | None] = mapped_column(String(200))

    postings: Mapped[list["Posting"]] = relationship(back_populates="entry")
    card: Mapped["Card | None"] = relationship()  # noqa: F821
    merchant: Mapped["Merchant | None"] = relationship()  # noqa: F821

    def __repr__(self) -> str:
        return f"<JournalEntry {self.id} {self.kind} {self.amount}>"


class Posting(Base):
    __tablename__ = "postings"
    __table_args__ = (
        CheckConstraint("amount > 0", name="positive"),
        CheckConstraint("debit_id <> credit_id", name="two_accounts"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entries.id"), index=True)
    debit_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), index=True)
    credit_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)

    entry: Mapped[JournalEntry] = relationship(back_populates="postings")

    def __repr__(self) -> str:
        return f"<Posting {self.debit_id}->{self.credit_id} {self.amount}>"

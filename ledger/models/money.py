"""Pre-deduction holds (R10), refunds (R14, R19), network fee weeks (R26), idempotency keys."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from ledger.base import Base
from ledger.models.enums import enum_column


class HoldState(StrEnum):
    PENDING = "pending"
    SETTLED = "settled"


class Hold(Base):
    __tablename__ = "holds"
    __table_args__ = (
        # One open pre-deduction per cardholder (R10).
        Index(
            "uq_holds_one_pending",
            "card_account_id",
            unique=True,
            sqlite_where=text("state = 'pending'"),
            postgresql_where=text("state = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    card_account_id: Mapped[int] = mapped_column(ForeignKey("card_accounts.id"), index=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    terminal_id: Mapped[int] = mapped_column(ForeignKey("terminals.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    used: Mapped[int | None] = mapped_column(BigInteger)
    state: Mapped[HoldState] = enum_column(HoldState)
    opened_at: Mapped[datetime]
    settled_at: Mapped[datetime | None]


class RefundRoute(StrEnum):
    CASH = "cash"  # at the counter (R14: leavers, withdrawals, temporary cards)
    BANK = "bank"  # to the bank card subsidies are paid to (R14: graduates)
    CLAIMANT = "claimant"  # frozen for a recorded claimant (R19: breach, missing, deceased)


class RefundState(StrEnum):
    PENDING = "pending"
    PAID = "paid"


class Refund(Base):
    __tablename__ = "refunds"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    route: Mapped[RefundRoute] = enum_column(RefundRoute)
    reason: Mapped[str] = mapped_column(String(40))
    state: Mapped[RefundState] = enum_column(RefundState)
    created_at: Mapped[datetime]
    paid_at: Mapped[datetime | None]
    paid_to: Mapped[dict | None] = mapped_column(JSON)  # claimant or bank card, as recorded
    payout_entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"))


class NetworkFeeWeek(Base):
    """A week of network access paid for; a week is paid at most once (R26)."""

    __tablename__ = "network_fee_weeks"
    __table_args__ = (UniqueConstraint("person_id", "week_start", name="uq_network_fee_week"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    week_start: Mapped[date]
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entries.id"))


#: The longest idempotency key: a caller's own key of up to 64 characters (the API's
#: Idempotency-Key) after who calls, such as "terminal:<code of up to 32>:".
MAX_KEY_LENGTH = 120


class IdempotencyKey(Base):
    """The first result of a retried operation, returned again on replay."""

    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH), primary_key=True)
    operation: Mapped[str] = mapped_column(String(40))
    request_hash: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime]

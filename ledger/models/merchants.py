"""Merchants, their terminals, settlements (R11, R23, R24) and the kiosks of R27."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ledger.base import Base
from ledger.models.accounts import LedgerAccount
from ledger.models.enums import enum_column
from ledger.models.people import Department


class MerchantCategory(StrEnum):
    CANTEEN = "canteen"
    SHOP = "shop"
    LIBRARY = "library"
    HOSPITAL = "hospital"
    BUS = "bus"
    BATHHOUSE = "bathhouse"
    WATER = "water"
    SERVICE = "service"


# A reissued card cannot be used at these on the day of reissue (R17).
REISSUE_DAY_BLOCKED = (MerchantCategory.LIBRARY, MerchantCategory.HOSPITAL, MerchantCategory.BUS)


class OpenState(StrEnum):
    ACTIVE = "active"
    CLOSED = "closed"


class Merchant(Base):
    __tablename__ = "merchants"
    __table_args__ = (
        CheckConstraint("fee_rate_bp >= 0 AND fee_rate_bp <= 10000", name="fee_rate_range"),
        CheckConstraint("settlement_days > 0", name="settlement_days_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    category: Mapped[MerchantCategory] = enum_column(MerchantCategory)
    location: Mapped[str] = mapped_column(String(100))
    operator_department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    supervising_department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    commercial: Mapped[bool]
    fee_rate_bp: Mapped[int]  # basis points of turnover; 50 = 0.5%
    settlement_days: Mapped[int]
    # The account opened with the finance office that payouts go to (R23); none for merchants
    # admitted before it was recorded.
    settlement_account: Mapped[str | None] = mapped_column(String(40))
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), unique=True)
    state: Mapped[OpenState] = enum_column(OpenState)
    admitted_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    settled_through: Mapped[date]  # last day settled; the day before admission at first

    account: Mapped[LedgerAccount] = relationship()
    operator_department: Mapped[Department] = relationship(foreign_keys=[operator_department_id])
    supervising_department: Mapped[Department] = relationship(
        foreign_keys=[supervising_department_id]
    )

    def __repr__(self) -> str:
        return f"<Merchant {self.code} {self.state}>"


class TerminalKind(StrEnum):
    POS = "pos"
    WATER = "water"  # water controller (水控), pre-deducting
    SHOWER = "shower"  # shower controller, pre-deducting


METERED_KINDS = (TerminalKind.WATER, TerminalKind.SHOWER)


class Terminal(Base):
    __tablename__ = "terminals"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    kind: Mapped[TerminalKind] = enum_column(TerminalKind)
    location: Mapped[str] = mapped_column(String(100))
    state: Mapped[OpenState] = enum_column(OpenState)
    registered_at: Mapped[datetime]

    merchant: Mapped[Merchant] = relationship()

    def __repr__(self) -> str:
        return f"<Terminal {self.code} at {self.location}>"


class Settlement(Base):
    """One merchant's settlement for a period (R11): turnover, fee, adjustments, payout."""

    __tablename__ = "settlements"
    __table_args__ = (UniqueConstraint("merchant_id", "period_end", name="uq_settlements_period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    period_start: Mapped[date]
    period_end: Mapped[date]
    turnover: Mapped[int] = mapped_column(BigInteger)
    adjustments: Mapped[int] = mapped_column(BigInteger)
    fee: Mapped[int] = mapped_column(BigInteger)
    payout: Mapped[int] = mapped_column(BigInteger)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"))
    created_at: Mapped[datetime]

    merchant: Mapped[Merchant] = relationship()


class KioskKind(StrEnum):
    SELF_SERVICE = "self_service"  # 圈存查询一体机
    REISSUE = "reissue"  # 自助补卡机


class Kiosk(Base):
    __tablename__ = "kiosks"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[KioskKind] = enum_column(KioskKind)
    campus: Mapped[str] = mapped_column(String(40))
    location: Mapped[str] = mapped_column(String(100))

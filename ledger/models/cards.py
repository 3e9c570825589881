"""Cards (R01, R02, R04, R05), their state history, and delegations (R16)."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ledger.base import Base
from ledger.models.enums import enum_column
from ledger.models.people import IdType, Person, mask_id_number


class CardType(StrEnum):
    STAFF = "staff"  # 职工卡
    EMPLOYEE = "employee"  # 员工卡
    STUDENT = "student"  # 学生卡
    TEMPORARY = "temporary"  # 临时卡


class CardState(StrEnum):
    ACTIVE = "active"
    LOST = "lost"  # 挂失
    FROZEN = "frozen"  # 冻结
    EXPIRED = "expired"
    REPLACED = "replaced"  # voided by a reissue
    CANCELLED = "cancelled"  # 注销
    TERMINATED = "terminated"  # 强制终止


class Channel(StrEnum):
    """Where an operation came from."""

    COUNTER = "counter"  # the card office counter, a clerk having checked ID
    KIOSK = "kiosk"  # 圈存查询一体机
    REISSUE_KIOSK = "reissue_kiosk"  # 自助补卡机
    WEB = "web"  # the card website
    PHONE = "phone"  # the voice service
    WECHAT = "wechat"  # the WeChat enterprise account
    POS = "pos"
    SYSTEM = "system"  # jobs and approved requests


# Channels where the holder acts alone and proves it with the query password (R06).
SELF_SERVICE = (Channel.KIOSK, Channel.WEB, Channel.PHONE, Channel.WECHAT)

TYPE_ZH = {
    CardType.STAFF: "职工卡",
    CardType.EMPLOYEE: "员工卡",
    CardType.STUDENT: "学生卡",
    CardType.TEMPORARY: "临时卡",
}

STATE_ZH = {
    CardState.ACTIVE: "正常",
    CardState.LOST: "挂失",
    CardState.FROZEN: "冻结",
    CardState.EXPIRED: "过期",
    CardState.REPLACED: "已补办作废",
    CardState.CANCELLED: "已注销",
    CardState.TERMINATED: "已强制终止",
}

# A person holds at most one card in these states (R02): each can return to active.
LIVE_STATES = (CardState.ACTIVE, CardState.LOST, CardState.FROZEN)
# No card ever leaves these states; a database trigger enforces it.
FINAL_STATES = (CardState.REPLACED, CardState.CANCELLED, CardState.TERMINATED)

_live_sql = "state IN ({})".format(", ".join(f"'{s.value}'" for s in LIVE_STATES))


class Card(Base):
    __tablename__ = "cards"
    __table_args__ = (
        Index(
            "uq_cards_one_live_card_per_person",
            "person_id",
            unique=True,
            sqlite_where=text(_live_sql),
            postgresql_where=text(_live_sql),
        ),
        CheckConstraint(
            "(card_type = 'temporary') = (expires_on IS NOT NULL)", name="temporary_has_expiry"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    card_no: Mapped[str] = mapped_column(String(20), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    card_account_id: Mapped[int] = mapped_column(ForeignKey("card_accounts.id"), index=True)
    card_type: Mapped[CardType] = enum_column(CardType)
    state: Mapped[CardState] = enum_column(CardState)
    issued_at: Mapped[datetime]
    expires_on: Mapped[date | None]
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"))

    person: Mapped[Person] = relationship()
    account: Mapped["CardAccount"] = relationship()  # noqa: F821

    def __repr__(self) -> str:
        return f"<Card {self.card_no} {self.state}>"


class CardEvent(Base):
    """One change of a card's state (R05): who, when, why, through which channel."""

    __tablename__ = "card_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100))
    channel: Mapped[Channel] = enum_column(Channel)
    from_state: Mapped[CardState | None] = enum_column(CardState, nullable=True)
    to_state: Mapped[CardState] = enum_column(CardState)
    reason: Mapped[str] = mapped_column(String(200))
    details: Mapped[dict | None] = mapped_column(JSON)


class EvidenceKind(StrEnum):
    HOLDER_ID = "holder_id"  # the holder's valid ID, brought by the delegate
    WRITTEN_DELEGATION = "written_delegation"  # 委托证明


class Delegation(Base):
    """A delegate acting for a card holder (R16): both identities and the evidence."""

    __tablename__ = "delegations"

    id: Mapped[int] = mapped_column(primary_key=True)
    card_event_id: Mapped[int] = mapped_column(ForeignKey("card_events.id"), unique=True)
    delegate_name: Mapped[str] = mapped_column(String(100))
    delegate_id_type: Mapped[IdType] = enum_column(IdType)
    delegate_id_number: Mapped[str] = mapped_column(String(40))
    evidence: Mapped[EvidenceKind] = enum_column(EvidenceKind)
    evidence_ref: Mapped[str | None] = mapped_column(String(200))

    @property
    def masked_delegate_id(self) -> str:
        """The delegate's ID number as shown on screens and paper."""
        return mask_id_number(self.delegate_id_number)

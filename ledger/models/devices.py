"""Device keys: how a POS terminal, a metering controller or a kiosk proves itself to the API.

A key belongs to one terminal or one kiosk and is bound, when issued, to the device's merchant
and location (R23); only its SHA-256 is stored."""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ledger.base import Base
from ledger.models.merchants import Kiosk, Terminal


class DeviceKey(Base):
    __tablename__ = "device_keys"
    __table_args__ = (
        CheckConstraint("(terminal_id IS NULL) <> (kiosk_id IS NULL)", name="one_device"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    terminal_id: Mapped[int | None] = mapped_column(ForeignKey("terminals.id"), index=True)
    kiosk_id: Mapped[int | None] = mapped_column(ForeignKey("kiosks.id"), index=True)
    #: The terminal's merchant when the key was issued (none for a kiosk).
    merchant_id: Mapped[int | None] = mapped_column(ForeignKey("merchants.id"))
    #: The device's registered location when the key was issued.
    location: Mapped[str] = mapped_column(String(100))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    issued_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    terminal: Mapped[Terminal | None] = relationship()
    kiosk: Mapped[Kiosk | None] = relationship()

    def __repr__(self) -> str:
        return f"<DeviceKey {self.id} {self.prefix}…>"

"""What every ledger operation is given: the session, who acts, the clock, the config."""

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from ledger.config import DEFAULT_CONFIG, LedgerConfig


@dataclass(frozen=True)
class Ctx:
    """An operation's context. `now` must be aware; `actor` names a user or a terminal."""

    session: Session
    actor: str
    now: datetime
    config: LedgerConfig = DEFAULT_CONFIG

    def __post_init__(self):
        if self.now.tzinfo is None:
            raise ValueError("Ctx.now must be an aware datetime")

    @property
    def local_now(self) -> datetime:
        """The time on the campus clock (Asia/Shanghai)."""
        return self.now.astimezone(self.config.zone)

    @property
    def today(self) -> date:
        """Today's Asia/Shanghai calendar day."""
        return self.local_now.date()

"""What every engine operation is given: the session, who acts, the clock and the settings."""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from ledger.config import DEFAULT_CONFIG, LedgerConfig
from ledger.context import Ctx
from workflows.identity import User


@dataclass(frozen=True)
class MailSettings:
    """SMTP for notifications; no host means in-app notifications only."""

    host: str | None = None
    port: int = 25
    sender: str = "cardoffice@cup.edu.cn"
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 10.0


@dataclass(frozen=True)
class EngineConfig:
    """The engine's settings; `app.config` builds one from the Flask settings."""

    urge_interval: timedelta = timedelta(hours=1)
    #: Where links in mail point, e.g. https://card.cup.edu.cn (instance pages are below it).
    base_url: str = "http://127.0.0.1:5000"
    mail: MailSettings = field(default_factory=MailSettings)
    ledger: LedgerConfig = DEFAULT_CONFIG


DEFAULT_ENGINE_CONFIG = EngineConfig()


@dataclass(frozen=True)
class Env:
    """An operation's context. `user` is None for the engine itself (timers, the worker)."""

    session: Session
    user: User | None
    now: datetime
    config: EngineConfig = DEFAULT_ENGINE_CONFIG

    def __post_init__(self):
        if self.now.tzinfo is None:
            raise ValueError("Env.now must be an aware datetime")

    @property
    def today(self) -> date:
        """Today's calendar day on campus (Asia/Shanghai)."""
        return self.now.astimezone(self.config.ledger.zone).date()

    @property
    def actor_name(self) -> str:
        """Who acts, as the ledger records it."""
        return f"user:{self.user.username}" if self.user else "engine"

    def ledger_ctx(self) -> Ctx:
        """The same session, actor and clock for a ledger operation."""
        return Ctx(self.session, self.actor_name, self.now, self.config.ledger)

"""Fees, limits and rates: configuration whose defaults are the seed's values."""

from dataclasses import dataclass, field
from datetime import time
from functools import cached_property
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class LedgerConfig:
    """Amounts in fen. Each field names the rule it comes from."""

    daily_limit: int = 5000  # R07: 50 yuan a day before the consumption password
    daily_limit_max: int = 60000  # R07: at most 600 yuan
    temporary_card_fee: int = 2500  # R03
    reissue_fee: int = 2000  # R03
    temporary_reissue_fee: int = 2500  # R03
    kiosk_reissue_min_balance: int = 2000  # R15
    management_fee_bp: int = 50  # R11: 0.5% of a commercial merchant's turnover
    settlement_days: int = 7  # R11: weekly
    network_fee_per_week: int = 500  # R26 (decided: the seed names no price)
    network_max_weeks: int = 4  # R26
    max_amount: int = 1_000_000  # decided: no single operation moves more than 10,000 yuan
    counter_hours: tuple = field(
        default=((time(8, 0), time(11, 30)), (time(14, 0), time(17, 0)))
    )  # R09: cash top-ups, Monday to Friday
    timezone: str = "Asia/Shanghai"
    password_cost: int = 2**14  # scrypt N for the two card passwords (R06)

    @cached_property
    def zone(self) -> ZoneInfo:
        """The zone whose calendar days the ledger counts in."""
        return ZoneInfo(self.timezone)


DEFAULT_CONFIG = LedgerConfig()

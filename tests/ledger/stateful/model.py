"""The in-memory model of the ledger: the rules as the model applies them, and its records."""

from dataclasses import dataclass, field
from datetime import date, datetime, time

from ledger.models.accounts import MAY_GO_NEGATIVE, AccountKind
from ledger.models.cards import CardState, CardType, Channel
from ledger.models.merchants import MerchantCategory, TerminalKind
from ledger.models.money import RefundRoute
from ledger.models.people import NetworkStatus
from ledger.models.people import PersonCategory as P
from ledger.ops.closing import TerminationReason
from ledger.ops.common import TRANSITIONS
from ledger.ops.money import TopUpMethod
from tests.conftest import SHANGHAI, TEST_CONFIG

S = CardState
CFG = TEST_CONFIG

# ---------------------------------------------------------------------------------------------
# The rules as the model applies them (R01-R26). They are written out here, apart from the
# table of card state changes, which is the ledger's decision on R05 and is checked below.

CARD_TYPE = {  # R01
    P.UNDERGRADUATE: CardType.STUDENT,
    P.POSTGRADUATE: CardType.STUDENT,
    P.FACULTY: CardType.STAFF,
    P.EMPLOYEE: CardType.EMPLOYEE,
    P.OTHER: CardType.TEMPORARY,
}
ALLOWED = TRANSITIONS  # R05 as decided in ledger/ops/common.py; checked below
LIVE = (S.ACTIVE, S.LOST, S.FROZEN)  # R02
FINAL = (S.REPLACED, S.CANCELLED, S.TERMINATED)
assert all(not ALLOWED[state] for state in FINAL), "R05, R15: final states lead nowhere"
assert S.ACTIVE not in ALLOWED[S.REPLACED]
# Only the outside world and a merchant owing the office after an adjustment (R11) may be
# negative; cardholders' money, holds, refunds owed and income never are (R08).
assert set(MAY_GO_NEGATIVE) == {
    AccountKind.CASH,
    AccountKind.BANK,
    AccountKind.WECHAT,
    AccountKind.MERCHANT,
}
ROUTE = {  # R14, R19
    TerminationReason.GRADUATED: RefundRoute.BANK,
    TerminationReason.WITHDRAWN: RefundRoute.CASH,
    TerminationReason.LEFT: RefundRoute.CASH,
    TerminationReason.BREACH: RefundRoute.CLAIMANT,
    TerminationReason.MISSING: RefundRoute.CLAIMANT,
    TerminationReason.DECEASED: RefundRoute.CLAIMANT,
}
SELF_SERVICE = (Channel.KIOSK, Channel.WEB, Channel.PHONE, Channel.WECHAT)
BLOCKED_ON_REISSUE_DAY = (MerchantCategory.LIBRARY, MerchantCategory.HOSPITAL, MerchantCategory.BUS)
TOP_UP_SOURCE = {
    TopUpMethod.CASH: AccountKind.CASH,
    TopUpMethod.BANK: AccountKind.BANK,
    TopUpMethod.WECHAT: AccountKind.WECHAT,
}


def counter_open(moment: datetime) -> bool:
    """R09: cash top-ups Monday to Friday, 8:00-11:30 and 14:00-17:00 campus time."""
    local = moment.astimezone(SHANGHAI)
    hours = ((time(8), time(11, 30)), (time(14), time(17)))
    return local.weekday() < 5 and any(a <= local.time() < b for a, b in hours)


def one_year_after(day: date) -> date:
    """R04: a year from `day` (29 February gives 28 February)."""
    try:
        return day.replace(year=day.year + 1)
    except ValueError:
        return day.replace(year=day.year + 1, day=28)


def capped_expiry(until: date, today: date) -> date:
    """R04, R22: a temporary card is valid until the day asked for, at most a year away."""
    return min(until, one_year_after(today))


def valid_amount(amount: int) -> bool:
    """R08: a positive amount no larger than the configured maximum."""
    return 0 < amount <= CFG.max_amount


def reissue_fee(card_type: CardType) -> int:
    """R03: what reissuing a card of this type costs; a temporary card has its own fee."""
    return CFG.temporary_reissue_fee if card_type == CardType.TEMPORARY else CFG.reissue_fee


def wrong(password: str) -> str:
    """Another six-digit password."""
    return f"{(int(password[0]) + 1) % 10}{password[1:]}"


def given_password(password: str, right: bool) -> str:
    """The password a caller types: the right one, or another."""
    return password if right else wrong(password)


def choose(pool: list, pick: int):
    """The element of a non-empty `pool` that the drawn number `pick` points at."""
    return pool[pick % len(pool)]


def luhn_ok(number: str) -> bool:
    """The Luhn check digit that bank card numbers carry (R09)."""
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


GOOD_BANK_CARD = next(
    f"621790000012345678{d}" for d in "0123456789" if luhn_ok(f"621790000012345678{d}")
)
BAD_BANK_CARD = GOOD_BANK_CARD[:-1] + str((int(GOOD_BANK_CARD[-1]) + 1) % 10)

# ---------------------------------------------------------------------------------------------
# The model's records.


@dataclass
class MPerson:
    id: int
    card_type: CardType
    id_number: str
    network: NetworkStatus
    had_card: bool = False

    @property
    def password(self) -> str:
        """R06: both passwords start as the last six digits of the ID number, X dropped."""
        return "".join(c for c in self.id_number if c.isdigit())[-6:]


@dataclass
class MHold:
    terminal: str
    amount: int
    card_no: str


@dataclass
class MAccount:
    purse: int = 0
    transitional: int = 0
    daily_limit: int = CFG.daily_limit
    spent_on: date | None = None
    spent_today: int = 0
    bank_bound: bool = False
    hold: MHold | None = None
    weeks: set = field(default_factory=set)
    closed: bool = False  # cancelled or terminated, until a new card reopens it

    def spent_on_day(self, day: date) -> int:
        """What the card has spent on `day` against its daily limit (R07)."""
        return self.spent_today if self.spent_on == day else 0


@dataclass
class MCard:
    card_no: str
    person_id: int
    card_type: CardType
    state: CardState
    expires_on: date | None
    issued_on: date
    reissued: bool = False


@dataclass
class MMerchant:
    code: str
    category: MerchantCategory
    fee_bp: int
    settled_through: date
    balance: int = 0
    credits: list = field(default_factory=list)  # (day, amount): purchases, settled holds
    debits: list = field(default_factory=list)  # (day, amount): adjustments

    def credit(self, day: date, amount: int) -> None:
        """Turnover on `day`: the merchant's settlement account grows."""
        self.balance += amount
        self.credits.append((day, amount))

    def debit(self, day: date, amount: int) -> None:
        """An adjustment on `day`: the merchant pays a cardholder back (R11)."""
        self.balance -= amount
        self.debits.append((day, amount))

    def between(self, moves: list, start: date, end: date) -> int:
        """The sum of `moves` (credits or debits) from `start` through `end`."""
        return sum(amount for day, amount in moves if start <= day <= end)


@dataclass
class MTerminal:
    merchant: str
    kind: TerminalKind
    active: bool = True


@dataclass
class MTurnover:
    """A purchase or a settled pre-deduction: what an adjustment may correct (R11)."""

    entry_id: int
    amount: int
    person_id: int
    merchant: str
    adjusted: int = 0


@dataclass
class MRefund:
    id: int
    amount: int
    route: RefundRoute
    person_id: int
    paid: bool = False


@dataclass
class Keyed:
    """A successful call made with an idempotency key: what a replay must give back."""

    fn: object
    args: tuple
    kwargs: dict
    result: dict


# ---------------------------------------------------------------------------------------------
# The campus every example starts from.

MERCHANTS = [  # code, category, commercial, [(terminal, kind)]
    ("CANTEEN", MerchantCategory.CANTEEN, False, [("T-CANTEEN", TerminalKind.POS)]),
    ("SHOP", MerchantCategory.SHOP, True, [("T-SHOP", TerminalKind.POS)]),
    ("LIBRARY", MerchantCategory.LIBRARY, False, [("T-LIBRARY", TerminalKind.POS)]),
    (
        "WATER",
        MerchantCategory.WATER,
        True,
        [("T-WATER-1", TerminalKind.WATER), ("T-WATER-2", TerminalKind.WATER)],
    ),
    ("BATH", MerchantCategory.BATHHOUSE, False, [("T-SHOWER", TerminalKind.SHOWER)]),
]
DISABLED_TERMINAL = "T-OLD"  # a canteen POS taken out of use
POS_TERMINALS = [t for *_, ts in MERCHANTS for t, k in ts if k == TerminalKind.POS]
POS_TERMINALS.append(DISABLED_TERMINAL)

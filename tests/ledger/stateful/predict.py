"""The model's predictions: which DomainError each operation must raise, if any (checked in the
order the rules give), and what a settlement must pay out."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from ledger.errors import (
    CardExpired,
    CardNotActive,
    Conflict,
    DomainError,
    InsufficientBalance,
    InvalidAmount,
    InvalidInput,
    NotAllowed,
    NotFound,
    OneCardPerPerson,
    PasswordRequired,
    TransitionNotAllowed,
    WrongPassword,
)
from ledger.models.cards import CardType, Channel
from ledger.models.merchants import TerminalKind
from ledger.models.money import RefundRoute
from ledger.models.people import NetworkStatus
from ledger.ops.money import TopUpMethod
from tests.ledger.stateful.model import (
    ALLOWED,
    BLOCKED_ON_REISSUE_DAY,
    CFG,
    LIVE,
    SELF_SERVICE,
    MAccount,
    MCard,
    MHold,
    MMerchant,
    MPerson,
    MRefund,
    MTerminal,
    S,
    capped_expiry,
    counter_open,
    reissue_fee,
    valid_amount,
)

Expect = type[DomainError] | None  # None: the operation must succeed

# -- cards ------------------------------------------------------------------------------------


def active_error(card: MCard, today: date) -> Expect:
    """R05, R04: only an active card within its validity can pay."""
    if card.state != S.ACTIVE:
        return CardNotActive
    if card.expires_on is not None and today > card.expires_on:
        return CardExpired
    return None


def card_password_error(card: MCard, today: date, right: bool) -> Expect:
    """R06: a service on an active card, for the holder who knows the password."""
    return active_error(card, today) or (None if right else WrongPassword)


def state_error(card: MCard, *states) -> Expect:
    """The operation acts only on a card in one of `states`."""
    return None if card.state in states else TransitionNotAllowed


def transition_error(card: MCard, target) -> Expect:
    """R05: a change of state that the table of transitions does not allow is refused."""
    return None if target in ALLOWED[card.state] else TransitionNotAllowed


def channel_error(channel: Channel, right: bool) -> Expect:
    """R13: at the counter, or by self-service with the query password; nowhere else."""
    if channel not in (Channel.COUNTER, *SELF_SERVICE):
        return NotAllowed
    if channel in SELF_SERVICE and not right:
        return WrongPassword
    return None


def issue_error(department: str, valid_until: date | None, today: date, live: bool) -> Expect:
    """R01-R04, R20: a department applies only for its own people; a temporary card is valid until
    today at the earliest; no one holds two live cards."""
    if department == "wrong":
        return NotAllowed
    if valid_until is not None and valid_until < today:
        return InvalidInput
    if live:
        return OneCardPerPerson
    return None


def reissue_error(card: MCard, account: MAccount, kiosk: bool, from_balance: bool) -> Expect:
    """R03, R15: a lost or damaged card; the kiosk serves students with enough on the card."""
    fee = reissue_fee(card.card_type)
    if error := state_error(card, S.ACTIVE, S.LOST):
        return error
    if kiosk and card.card_type != CardType.STUDENT:
        return NotAllowed
    needed = max(fee, CFG.kiosk_reissue_min_balance) if kiosk else fee if from_balance else 0
    if account.purse < needed:
        return InsufficientBalance
    return None


def extend_error(card: MCard, until: date, today: date, live_elsewhere: bool) -> Expect:
    """R22, R04: a later expiry, at most a year away; an expired card comes back only while
    its holder has no other live card."""
    if until < today or capped_expiry(until, today) <= card.expires_on:
        return InvalidInput
    if card.state == S.EXPIRED and live_elsewhere:
        return OneCardPerPerson
    if card.state not in (*LIVE, S.EXPIRED):
        return TransitionNotAllowed
    return None


# -- money ------------------------------------------------------------------------------------


def top_up_error(
    card: MCard, account: MAccount, amount: int, method: TopUpMethod, now: datetime
) -> Expect:
    """R09: cash in counter hours, bank from a bound card, WeChat at any time; a lost card
    still takes money."""
    if not valid_amount(amount):
        return InvalidAmount
    if card.state not in (S.ACTIVE, S.LOST):
        return CardNotActive
    open_to = {
        TopUpMethod.CASH: counter_open(now),
        TopUpMethod.BANK: account.bank_bound,
        TopUpMethod.WECHAT: True,
    }
    return None if open_to[method] else NotAllowed


def payment_error(card: MCard, amount: int, today: date) -> Expect:
    """R08, R05, R04: a valid amount, from an active card within its validity."""
    if not valid_amount(amount):
        return InvalidAmount
    return active_error(card, today)


def purchase_error(
    card: MCard,
    account: MAccount,
    terminal: MTerminal,
    merchant: MMerchant,
    amount: int,
    password_mode: str,
    today: date,
) -> Expect:
    """R07, R08, R11, R17: at an active POS (not the library, hospital or bus on the day of a
    reissue); above the day's limit only with the password; never below zero."""
    spent = account.spent_on_day(today) + amount
    reissue_day = card.reissued and card.issued_on == today  # R17
    if error := payment_error(card, amount, today):
        return error
    if (
        not terminal.active
        or terminal.kind != TerminalKind.POS
        or (reissue_day and merchant.category in BLOCKED_ON_REISSUE_DAY)
    ):
        return NotAllowed
    if spent > account.daily_limit and password_mode == "none":
        return PasswordRequired
    if spent > account.daily_limit and password_mode == "wrong":
        return WrongPassword
    if account.purse < amount:
        return InsufficientBalance
    return None


def pre_deduct_error(
    card: MCard, account: MAccount, code: str, terminal: MTerminal, amount: int, today: date
) -> Expect:
    """R10: at an active metering controller, one open hold per controller, never below zero."""
    if error := payment_error(card, amount, today):
        return error
    if not terminal.active or terminal.kind == TerminalKind.POS:
        return NotAllowed
    if account.hold is not None and account.hold.terminal == code:
        return Conflict
    if account.purse < amount:
        return InsufficientBalance
    return None


def settle_hold_error(hold: MHold | None, code: str, used: int) -> Expect:
    """R10: the second tap at the controller that holds the money, for no more than it holds."""
    if hold is None or hold.terminal != code:
        return NotFound
    if used > hold.amount:
        return InvalidAmount
    return None


def network_fee_error(
    card: MCard,
    person: MPerson,
    account: MAccount,
    week_starts: set[date],
    right: bool,
    today: date,
) -> Expect:
    """R26: students registered and not suspended; 1-4 weeks; never a week twice."""
    weeks = len(week_starts)
    if error := card_password_error(card, today, right):
        return error
    if card.card_type != CardType.STUDENT or person.network != NetworkStatus.ACTIVE:
        return NotAllowed
    if not 1 <= weeks <= CFG.network_max_weeks:
        return InvalidInput
    if week_starts & account.weeks:
        return Conflict
    if account.purse < weeks * CFG.network_fee_per_week:
        return InsufficientBalance
    return None


def daily_limit_error(
    card: MCard, new_limit: int, right: bool, at_counter: bool, today: date
) -> Expect:
    """R07: only at a kiosk, with the consumption password, at most 600 yuan."""
    if at_counter:
        return NotAllowed
    if not 0 <= new_limit <= CFG.daily_limit_max:
        return InvalidInput
    return card_password_error(card, today, right)


def refund_error(refund: MRefund, claimant: bool, bank_bound: bool) -> Expect:
    """R14, R19: paid once, in cash at the counter (bank refunds go by batch, unless the
    holder has no bank card on file); a claimant's identity is recorded."""
    if refund.paid or (refund.route == RefundRoute.BANK and bank_bound):
        return Conflict
    if refund.route == RefundRoute.CLAIMANT and not claimant:
        return InvalidInput
    return None


# -- settlement -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settlement:
    """What settling a merchant today must report and pay (R11)."""

    period_start: date
    period_end: date
    turnover: int
    adjustments: int
    fee: int
    payout: int

    def as_result(self) -> dict:
        """The figures as settle_merchant reports them."""
        return {
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "turnover": self.turnover,
            "adjustments": self.adjustments,
            "fee": self.fee,
            "payout": self.payout,
        }


def predict_settlement(merchant: MMerchant, today: date) -> Settlement:
    """R11: settling `merchant` today covers whole days from its last settlement through
    yesterday (an empty period is refused); the fee is the merchant's rate on its net turnover,
    rounded half up; what it held at midnight, less the fee, is paid out."""
    start, end = merchant.settled_through + timedelta(days=1), today - timedelta(days=1)
    turnover = merchant.between(merchant.credits, start, end)
    adjusted = merchant.between(merchant.debits, start, end)
    fee = max(0, ((turnover - adjusted) * merchant.fee_bp + 5000) // 10000)
    held_at_cutoff = merchant.balance - (
        merchant.between(merchant.credits, today, today)
        - merchant.between(merchant.debits, today, today)
    )
    return Settlement(start, end, turnover, adjusted, fee, max(0, held_at_cutoff - fee))

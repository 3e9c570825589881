"""Money in and out of the purse: top-ups (R09), the transitional balance (R09) and
purchases with the daily limit and consumption password (R07, R08, R11, R17)."""

from datetime import datetime
from enum import StrEnum

from ledger.context import Ctx
from ledger.errors import CardNotActive, InsufficientBalance, NotAllowed, PasswordRequired
from ledger.idempotency import idempotent
from ledger.models.accounts import AccountKind
from ledger.models.cards import STATE_ZH, Card, CardState
from ledger.models.journal import EntryKind
from ledger.models.merchants import METERED_KINDS, REISSUE_DAY_BLOCKED, Merchant
from ledger.ops.common import (
    active_terminal,
    check_amount,
    lock_card,
    purse_balance,
    require_active,
    require_password,
    yuan,
)
from ledger.posting import post_entry, system_account


class TopUpMethod(StrEnum):
    CASH = "cash"  # at the counter, in its hours
    BANK = "bank"  # 圈存 from the bound Bank of China debit card, at a kiosk
    WECHAT = "wechat"  # lands in the transitional balance


def counter_open(ctx: Ctx, at: datetime) -> bool:
    """R09: Monday to Friday, 8:00-11:30 and 14:00-17:00 campus time."""
    local = at.astimezone(ctx.config.zone)
    if local.weekday() >= 5:
        return False
    return any(start <= local.time() < end for start, end in ctx.config.counter_hours)


def _check_top_up(ctx: Ctx, card: Card, method: TopUpMethod) -> None:
    if card.state not in (CardState.ACTIVE, CardState.LOST):
        raise CardNotActive(card_no=card.card_no, state=card.state, state_zh=STATE_ZH[card.state])
    if method == TopUpMethod.CASH and not counter_open(ctx, ctx.now):
        raise NotAllowed(
            reason_zh="现金充值在周一至周五 8:00-11:30、14:00-17:00 办理",
            reason_en="cash top-ups are taken Monday to Friday, 8:00-11:30 and 14:00-17:00",
        )
    if method == TopUpMethod.BANK and not card.account.bank_card_no:
        raise NotAllowed(
            reason_zh="未绑定中国银行借记卡", reason_en="no Bank of China debit card is bound"
        )


_TOP_UP = {
    TopUpMethod.CASH: (AccountKind.CASH, EntryKind.TOPUP_CASH),
    TopUpMethod.BANK: (AccountKind.BANK, EntryKind.TOPUP_BANK),
    TopUpMethod.WECHAT: (AccountKind.WECHAT, EntryKind.TOPUP_WECHAT),
}


@idempotent("top_up")
def top_up(ctx: Ctx, card_no: str, amount: int, method: TopUpMethod) -> dict:
    """R09: deposit money; a WeChat top-up waits in the transitional balance."""
    method = TopUpMethod(method)
    check_amount(ctx, amount)
    card = lock_card(ctx, card_no)
    _check_top_up(ctx, card, method)
    source_kind, entry_kind = _TOP_UP[method]
    account = card.account
    target = account.transitional_id if method == TopUpMethod.WECHAT else account.purse_id
    source = system_account(ctx.session, source_kind)
    entry_id = post_entry(
        ctx, entry_kind, [(source, target, amount)], amount=amount, card_id=card.id
    )
    return {
        "card_no": card.card_no,
        "amount": amount,
        "balance": account.purse.balance,
        "transitional": account.transitional.balance,
        "entry_id": entry_id,
    }


@idempotent("claim_transitional")
def claim_transitional(ctx: Ctx, card_no: str, terminal_code: str) -> dict:
    """R09: the card shown at an idle POS (amount 0) takes its transitional balance."""
    card = lock_card(ctx, card_no)
    require_active(ctx, card)
    terminal = active_terminal(ctx, terminal_code)
    account = card.account
    amount = account.transitional.balance
    entry_id = None
    if amount:
        entry_id = post_entry(
            ctx,
            EntryKind.CLAIM_TRANSITIONAL,
            [(account.transitional_id, account.purse_id, amount)],
            amount=amount,
            card_id=card.id,
            terminal_id=terminal.id,
        )
    return {
        "card_no": card.card_no,
        "claimed": amount,
        "balance": account.purse.balance,
        "entry_id": entry_id,
    }


def refuse_on_reissue_day(ctx: Ctx, card: Card, merchant: Merchant) -> None:
    """R17: a reissued card is not accepted at the library, hospital or bus that day."""
    issued_day = card.issued_at.astimezone(ctx.config.zone).date()
    if card.replaces_id and merchant.category in REISSUE_DAY_BLOCKED and issued_day == ctx.today:
        raise NotAllowed(
            reason_zh="补办当天不能在图书馆、校医院、校车上使用，次日起方可使用",
            reason_en="a card reissued today works at the library, hospital and bus from tomorrow",
        )


def check_daily_limit(ctx: Ctx, card: Card, amount: int, password: str | None) -> int:
    """R07: above the day's limit the consumption password is needed; returns the new total."""
    account = card.account
    spent = account.spent_on_day(ctx.today) + amount
    if spent > account.daily_limit:
        if password is None:
            raise PasswordRequired()
        require_password(password, account.consume_password_hash)
    return spent


@idempotent("purchase")
def purchase(
    ctx: Ctx, card_no: str, terminal_code: str, amount: int, *, consume_password: str | None = None
) -> dict:
    """R07, R08, R11: pay a merchant from the purse, never below zero."""
    check_amount(ctx, amount)
    card = lock_card(ctx, card_no)
    require_active(ctx, card)
    terminal = active_terminal(ctx, terminal_code)
    if terminal.kind in METERED_KINDS:
        raise NotAllowed(reason_zh="水控终端按预扣计费", reason_en="metering terminals pre-deduct")
    refuse_on_reissue_day(ctx, card, terminal.merchant)
    spent = check_daily_limit(ctx, card, amount, consume_password)
    balance = purse_balance(card)
    if balance < amount:
        raise InsufficientBalance(balance_yuan=yuan(balance), amount_yuan=yuan(amount))
    entry_id = post_entry(
        ctx,
        EntryKind.PURCHASE,
        [(card.account.purse_id, terminal.merchant.account_id, amount)],
        amount=amount,
        card_id=card.id,
        merchant_id=terminal.merchant_id,
        terminal_id=terminal.id,
    )
    card.account.spent_on, card.account.spent_today = ctx.today, spent
    return {
        "card_no": card.card_no,
        "amount": amount,
        "balance": balance - amount,
        "merchant": terminal.merchant.code,
        "entry_id": entry_id,
    }

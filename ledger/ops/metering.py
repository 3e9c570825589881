"""Pre-deducted metering at water and shower controllers (R10), TigerBeetle's pending
transfers: the first tap moves the pre-deduction to the holds account, the second posts what
was used to the merchant and voids the rest back to the purse."""

from sqlalchemy import select

from ledger.context import Ctx
from ledger.errors import Conflict, InsufficientBalance, InvalidAmount, NotAllowed, NotFound
from ledger.idempotency import idempotent
from ledger.models.accounts import AccountKind, CardAccount
from ledger.models.journal import EntryKind
from ledger.models.merchants import METERED_KINDS, Terminal
from ledger.models.money import Hold, HoldState
from ledger.ops.common import (
    active_terminal,
    check_amount,
    lock_card,
    purse_balance,
    require_active,
    yuan,
)
from ledger.posting import post_entry, system_account


def open_hold(ctx: Ctx, account: CardAccount) -> Hold | None:
    """The cardholder's one pending pre-deduction, if any (the account is locked already)."""
    return ctx.session.scalar(
        select(Hold).where(Hold.card_account_id == account.id, Hold.state == HoldState.PENDING)
    )


def _settle(ctx: Ctx, hold: Hold, account: CardAccount, used: int) -> int:
    terminal = ctx.session.get(Terminal, hold.terminal_id)
    holds = system_account(ctx.session, AccountKind.HOLDS)
    moves = [
        (holds, terminal.merchant.account_id, used),
        (holds, account.purse_id, hold.amount - used),
    ]
    entry_id = post_entry(
        ctx,
        EntryKind.HOLD_SETTLE,
        moves,
        amount=used,
        card_id=hold.card_id,
        merchant_id=terminal.merchant_id,
        terminal_id=terminal.id,
    )
    hold.state, hold.used, hold.settled_at = HoldState.SETTLED, used, ctx.now
    return entry_id


def settle_open_hold(ctx: Ctx, account: CardAccount) -> None:
    """R10: an open pre-deduction left behind settles at its full pre-deducted amount."""
    hold = open_hold(ctx, account)
    if hold is not None:
        _settle(ctx, hold, account, hold.amount)
        ctx.session.flush()


@idempotent("pre_deduct")
def pre_deduct(ctx: Ctx, card_no: str, terminal_code: str, amount: int) -> dict:
    """First tap at a controller: hold `amount`; an open hold elsewhere settles in full."""
    check_amount(ctx, amount)
    card = lock_card(ctx, card_no)
    require_active(ctx, card)
    terminal = active_terminal(ctx, terminal_code)
    if terminal.kind not in METERED_KINDS:
        raise NotAllowed(reason_zh="该终端不是水控终端", reason_en="not a metering terminal")
    pending = open_hold(ctx, card.account)
    if pending is not None and pending.terminal_id == terminal.id:
        raise Conflict(
            reason_zh="本机已有预扣，请再次刷卡结算", reason_en="tap again here to settle"
        )
    settle_open_hold(ctx, card.account)
    balance = purse_balance(card)
    if balance < amount:
        raise InsufficientBalance(balance_yuan=yuan(balance), amount_yuan=yuan(amount))
    holds = system_account(ctx.session, AccountKind.HOLDS)
    entry_id = post_entry(
        ctx,
        EntryKind.HOLD,
        [(card.account.purse_id, holds, amount)],
        amount=amount,
        card_id=card.id,
        merchant_id=terminal.merchant_id,
        terminal_id=terminal.id,
    )
    hold = Hold(
        card_account_id=card.account.id,
        card_id=card.id,
        terminal_id=terminal.id,
        amount=amount,
        state=HoldState.PENDING,
        opened_at=ctx.now,
    )
    ctx.session.add(hold)
    ctx.session.flush()
    return {"card_no": card.card_no, "hold_id": hold.id, "held": amount, "entry_id": entry_id}


@idempotent("settle_hold")
def settle_hold(ctx: Ctx, card_no: str, terminal_code: str, used: int) -> dict:
    """Second tap at the same controller: charge what was used, return the rest."""
    card = lock_card(ctx, card_no)
    hold = open_hold(ctx, card.account)
    terminal = ctx.session.scalar(select(Terminal).where(Terminal.code == terminal_code))
    if hold is None or terminal is None or hold.terminal_id != terminal.id:
        raise NotFound(what_zh="本机预扣", what_en="pre-deduction at this terminal", key=card_no)
    if isinstance(used, bool) or not isinstance(used, int) or not 0 <= used <= hold.amount:
        raise InvalidAmount(max_yuan=yuan(hold.amount))
    entry_id = _settle(ctx, hold, card.account, used)
    return {
        "card_no": card.card_no,
        "used": used,
        "returned": hold.amount - used,
        "balance": card.account.purse.balance,
        "entry_id": entry_id,
    }

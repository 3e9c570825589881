"""Merchant settlement with the management fee, and adjustments for system double charges
(R11). A settlement covers whole Asia/Shanghai days, from the day after the last one through
yesterday: the fee is taken on the period's turnover less its adjustments, and what the
merchant's account held at the end of the period, less the fee, is paid out. An adjustment
larger than what the merchant holds leaves its account negative: the merchant owes the card
office, and the next settlements recover it before paying out."""

from datetime import date, datetime, time, timedelta

from sqlalchemy import case, func, or_, select

from ledger.context import Ctx
from ledger.errors import Conflict, InvalidAmount, NotFound
from ledger.idempotency import idempotent
from ledger.models.accounts import AccountKind, LedgerAccount
from ledger.models.journal import EntryKind, JournalEntry, Posting
from ledger.models.merchants import Merchant, OpenState, Settlement
from ledger.ops.common import lock_card, yuan
from ledger.ops.merchants import find_merchant
from ledger.posting import post_entry, system_account

TURNOVER_KINDS = (EntryKind.PURCHASE, EntryKind.HOLD_SETTLE)


def management_fee(net_turnover: int, rate_bp: int) -> int:
    """The fee on a period's turnover, rounded half up to the fen."""
    return max(0, (net_turnover * rate_bp + 5000) // 10000)


def _midnight(ctx: Ctx, day: date) -> datetime:
    """The start of `day` on the campus clock."""
    return datetime.combine(day, time(0), tzinfo=ctx.config.zone)


def _period_sum(ctx: Ctx, merchant: Merchant, kinds, side, start: date, end: date) -> int:
    """Postings of `kinds` on the merchant's `side` (credit or debit) dated start..end."""
    total = ctx.session.scalar(
        select(func.coalesce(func.sum(Posting.amount), 0))
        .join(JournalEntry, Posting.entry_id == JournalEntry.id)
        .where(
            side == merchant.account_id,
            JournalEntry.kind.in_(kinds),
            JournalEntry.at >= _midnight(ctx, start),
            JournalEntry.at < _midnight(ctx, end + timedelta(days=1)),
        )
    )
    return int(total)


def _net_since(ctx: Ctx, merchant: Merchant, since: datetime) -> int:
    """What the merchant's account gained (credits less debits) from `since` on."""
    account = merchant.account_id
    signed = case((Posting.credit_id == account, Posting.amount), else_=-Posting.amount)
    total = ctx.session.scalar(
        select(func.coalesce(func.sum(signed), 0))
        .join(JournalEntry, Posting.entry_id == JournalEntry.id)
        .where(
            or_(Posting.credit_id == account, Posting.debit_id == account),
            JournalEntry.at >= since,
        )
    )
    return int(total)


def settle_merchant(ctx: Ctx, merchant_code: str) -> dict:
    """Settle one merchant through yesterday: fee to income, the rest to its bank account."""
    merchant = find_merchant(ctx, merchant_code, lock=True)
    if merchant.state != OpenState.ACTIVE:
        raise Conflict(reason_zh="商户已撤销", reason_en="the merchant is closed")
    start, end = merchant.settled_through + timedelta(days=1), ctx.today - timedelta(days=1)
    if start > end:
        raise Conflict(reason_zh="没有待结算的日期", reason_en="no unsettled day before today")
    turnover = _period_sum(ctx, merchant, TURNOVER_KINDS, Posting.credit_id, start, end)
    adjusted = _period_sum(ctx, merchant, (EntryKind.ADJUSTMENT,), Posting.debit_id, start, end)
    fee = management_fee(turnover - adjusted, merchant.fee_rate_bp)
    balance = ctx.session.get(LedgerAccount, merchant.account_id).balance
    held_at_cutoff = balance - _net_since(ctx, merchant, _midnight(ctx, ctx.today))
    payout = max(0, held_at_cutoff - fee)
    moves = [
        (merchant.account_id, system_account(ctx.session, AccountKind.MANAGEMENT_FEES), fee),
        (merchant.account_id, system_account(ctx.session, AccountKind.BANK), payout),
    ]
    entry_id = post_entry(
        ctx, EntryKind.SETTLEMENT, moves, amount=payout + fee, merchant_id=merchant.id
    )
    settlement = Settlement(
        merchant_id=merchant.id,
        period_start=start,
        period_end=end,
        turnover=turnover,
        adjustments=adjusted,
        fee=fee,
        payout=payout,
        entry_id=entry_id,
        created_at=ctx.now,
    )
    merchant.settled_through = end
    ctx.session.add(settlement)
    ctx.session.flush()
    return {
        "merchant": merchant.code,
        "settlement_id": settlement.id,
        "period_start": start.isoformat(),
        "period_end": end.isoformat(),
        "turnover": turnover,
        "adjustments": adjusted,
        "fee": fee,
        "payout": payout,
    }


def settlement_due(merchant: Merchant, today: date) -> bool:
    """Whether the merchant's period (weekly unless agreed otherwise) has run by `today`: its
    last settled day plus the period lies before today."""
    return merchant.settled_through + timedelta(days=merchant.settlement_days) < today


def run_settlement(ctx: Ctx) -> list[dict]:
    """Settle every open merchant whose period (weekly unless agreed otherwise) has run.

    Each merchant is checked again under its lock, so two nodes running the job at once settle
    each merchant once: the second waits for the first, then finds nothing due."""
    codes = ctx.session.scalars(
        select(Merchant.code).where(Merchant.state == OpenState.ACTIVE).order_by(Merchant.id)
    ).all()
    results = []
    for code in codes:
        merchant = find_merchant(ctx, code, lock=True)
        if settlement_due(merchant, ctx.today):
            results.append(settle_merchant(ctx, code))
    return results


@idempotent("post_adjustment")
def post_adjustment(ctx: Ctx, entry_id: int, amount: int, reason: str) -> dict:
    """R11: put right a double charge by paying the cardholder back from the merchant's
    settlement account; the original posting is never edited."""
    original = ctx.session.get(JournalEntry, entry_id)
    if original is None or original.kind not in TURNOVER_KINDS:
        raise NotFound(what_zh="消费记录", what_en="purchase", key=entry_id)
    card = lock_card(ctx, original.card.card_no)
    if card.account.closed_at is not None:
        raise Conflict(
            reason_zh="持卡人账户已关闭，请改为退款处理",
            reason_en="the holder's account is closed; refund instead",
        )
    merchant = find_merchant(ctx, original.merchant.code, lock=True)
    earlier = ctx.session.scalar(
        select(func.coalesce(func.sum(JournalEntry.amount), 0)).where(
            JournalEntry.corrects_id == entry_id, JournalEntry.kind == EntryKind.ADJUSTMENT
        )
    )
    if (
        isinstance(amount, bool)
        or not isinstance(amount, int)
        or not 0 < amount <= (original.amount - earlier)
    ):
        raise InvalidAmount(max_yuan=yuan(original.amount - earlier))
    adjustment_id = post_entry(
        ctx,
        EntryKind.ADJUSTMENT,
        [(merchant.account_id, card.account.purse_id, amount)],
        amount=amount,
        card_id=card.id,
        merchant_id=merchant.id,
        corrects_id=entry_id,
        memo=reason[:200],
    )
    return {"entry_id": adjustment_id, "corrects": entry_id, "amount": amount}

"""Reissue (补办), in person, by a delegate or at a student reissue kiosk: R03, R15-R17."""

from ledger.context import Ctx
from ledger.errors import InsufficientBalance, NotAllowed
from ledger.idempotency import idempotent
from ledger.models.cards import Card, CardState, CardType, Channel, Delegation
from ledger.ops.cards import card_number, charge_card_fee, fee_or_default
from ledger.ops.common import (
    change_state,
    delegation_fields,
    lock_card,
    purse_balance,
    record_event,
    refusal,
    yuan,
)

REISSUABLE = (CardState.ACTIVE, CardState.LOST)  # lost or damaged


def reissue_fee(ctx: Ctx, card: Card) -> int:
    """R03: 20 yuan, or 25 for a temporary card."""
    if card.card_type == CardType.TEMPORARY:
        return ctx.config.temporary_reissue_fee
    return ctx.config.reissue_fee


def _check_kiosk(ctx: Ctx, card: Card, delegate: dict | None) -> None:
    """R15: the reissue kiosk serves students alone, with at least 20 yuan on the card."""
    if card.card_type != CardType.STUDENT:
        raise NotAllowed(
            reason_zh="自助补卡机只能补办学生卡，教职工请到中油大厦A座105室办理",
            reason_en="reissue kiosks serve student cards only; staff come to the counter",
        )
    if delegate is not None:
        raise NotAllowed(reason_zh="自助补卡不能代办", reason_en="no delegation at a kiosk")
    floor = ctx.config.kiosk_reissue_min_balance
    if purse_balance(card) < floor:
        raise InsufficientBalance(balance_yuan=yuan(purse_balance(card)), amount_yuan=yuan(floor))


@idempotent("reissue_card")
def reissue_card(
    ctx: Ctx,
    card_no: str,
    *,
    channel: Channel = Channel.COUNTER,
    fee_from_balance: bool = False,
    new_card_no: str | None = None,
    delegate: dict | None = None,
    fee: int | None = None,
) -> dict:
    """Replace a lost or damaged card: same account and balance, old card void at once.

    At the counter the fee is paid in cash or from the balance; at a reissue kiosk always
    from the balance. The new card keeps a temporary card's expiry. `fee` is the fee table's
    amount (R03) when a process decided it; else `reissue_fee`'s.
    """
    old = lock_card(ctx, card_no)
    if old.state not in REISSUABLE:
        raise refusal(old, CardState.REPLACED)
    if channel == Channel.REISSUE_KIOSK:
        _check_kiosk(ctx, old, delegate)
        fee_from_balance = True
    elif channel != Channel.COUNTER:
        raise NotAllowed(
            reason_zh="补办只能在柜台或自助补卡机办理",
            reason_en="reissue at the counter or a kiosk",
        )
    delegation = delegation_fields(old.person.id_number, delegate) if delegate else None
    number = card_number(ctx, new_card_no)
    fee = fee_or_default(ctx, fee, lambda: reissue_fee(ctx, old))
    if fee_from_balance and purse_balance(old) < fee:
        raise InsufficientBalance(balance_yuan=yuan(purse_balance(old)), amount_yuan=yuan(fee))
    event = change_state(ctx, old, CardState.REPLACED, "reissued", channel)
    ctx.session.flush()  # the old card leaves the live states before the new one arrives
    new = Card(
        card_no=number,
        person_id=old.person_id,
        account=old.account,
        card_type=old.card_type,
        state=CardState.ACTIVE,
        issued_at=ctx.now,
        expires_on=old.expires_on,
        replaces_id=old.id,
    )
    ctx.session.add(new)
    ctx.session.flush()
    record_event(ctx, new, "reissued", channel, {"replaces": old.card_no, "fee": fee})
    if delegation is not None:
        ctx.session.add(Delegation(card_event_id=event.id, **delegation))
    entry_id = charge_card_fee(ctx, new, fee, paid_from_balance=fee_from_balance)
    return {
        "card_no": new.card_no,
        "replaces": old.card_no,
        "fee": fee,
        "balance": purse_balance(new),
        "entry_id": entry_id,
        "delegated": delegation is not None,
    }

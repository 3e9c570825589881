"""Ending cards and paying balances back: cancellation (R18), forced termination (R19) and
the refund routes of R14. Closing moves the account's whole balance in one entry."""

from enum import StrEnum

from sqlalchemy import func, select

from ledger.context import Ctx
from ledger.errors import Conflict, InvalidInput, NotFound
from ledger.idempotency import idempotent
from ledger.models.accounts import AccountKind, CardAccount, LedgerAccount
from ledger.models.cards import Card, CardState, Channel, Delegation
from ledger.models.journal import EntryKind
from ledger.models.money import Refund, RefundRoute, RefundState
from ledger.ops.common import change_state, delegation_fields, lock_card
from ledger.ops.metering import settle_open_hold
from ledger.posting import post_entry, system_account


class TerminationReason(StrEnum):
    GRADUATED = "graduated"  # listed by academic affairs or the graduate school
    WITHDRAWN = "withdrawn"
    LEFT = "left"  # listed by HR
    BREACH = "breach"  # another's card, an altered or forged card
    MISSING = "missing"  # confirmed by the responsible department
    DECEASED = "deceased"


_CHUNK = 500  # refund ids locked per statement
_SHOWN = 20  # refund ids a Conflict names

REFUND_ROUTE = {  # R14, R19
    TerminationReason.GRADUATED: RefundRoute.BANK,
    TerminationReason.WITHDRAWN: RefundRoute.CASH,
    TerminationReason.LEFT: RefundRoute.CASH,
    TerminationReason.BREACH: RefundRoute.CLAIMANT,
    TerminationReason.MISSING: RefundRoute.CLAIMANT,
    TerminationReason.DECEASED: RefundRoute.CLAIMANT,
}


def close_account(ctx: Ctx, card: Card, route: RefundRoute, reason: str) -> Refund | None:
    """Move the purse and transitional balances to refunds owed; close the account."""
    settle_open_hold(ctx, card.account)
    account = card.account
    purse, transitional = account.purse.balance, account.transitional.balance
    account.closed_at = ctx.now
    if purse + transitional == 0:
        return None
    refunds = system_account(ctx.session, AccountKind.REFUNDS)
    moves = [(account.purse_id, refunds, purse), (account.transitional_id, refunds, transitional)]
    post_entry(ctx, EntryKind.CLOSE_ACCOUNT, moves, amount=purse + transitional, card_id=card.id)
    refund = Refund(
        person_id=card.person_id,
        card_id=card.id,
        amount=purse + transitional,
        route=route,
        reason=reason,
        state=RefundState.PENDING,
        created_at=ctx.now,
    )
    ctx.session.add(refund)
    ctx.session.flush()
    return refund


def _lock_accounts(ctx: Ctx, *kinds: AccountKind) -> None:
    ids = sorted(system_account(ctx.session, kind) for kind in kinds)
    ctx.session.execute(
        select(LedgerAccount.id)
        .where(LedgerAccount.id.in_(ids))
        .order_by(LedgerAccount.id)
        .with_for_update()
    )


@idempotent("cancel_card")
def cancel_card(ctx: Ctx, card_no: str, *, delegate: dict | None = None) -> dict:
    """R18: a holder leaving cancels the card at the counter; the balance is paid in cash."""
    card = lock_card(ctx, card_no)
    delegation = delegation_fields(card.person.id_number, delegate) if delegate else None
    event = change_state(ctx, card, CardState.CANCELLED, "cancelled by holder", Channel.COUNTER)
    settle_open_hold(ctx, card.account)
    # Close and pay out are two entries: take both system accounts now, in id order, as a
    # refund payout does, so that the two never wait on each other.
    _lock_accounts(ctx, AccountKind.REFUNDS, AccountKind.CASH)
    refund = close_account(ctx, card, RefundRoute.CASH, "cancelled")
    ctx.session.flush()
    if delegation is not None:
        ctx.session.add(Delegation(card_event_id=event.id, **delegation))
    paid = _pay(ctx, refund, {"to": "holder" if delegate is None else "delegate"}) if refund else 0
    return {"card_no": card.card_no, "state": card.state.value, "paid_out": paid}


@idempotent("terminate_card")
def terminate_card(ctx: Ctx, card_no: str, reason: TerminationReason) -> dict:
    """R19: the IT centre ends a card; the balance takes the route R14 gives the reason."""
    reason = TerminationReason(reason)
    card = lock_card(ctx, card_no)
    change_state(ctx, card, CardState.TERMINATED, reason.value, Channel.SYSTEM)
    refund = close_account(ctx, card, REFUND_ROUTE[reason], reason.value)
    return {
        "card_no": card.card_no,
        "state": card.state.value,
        "refund_id": refund.id if refund else None,
        "refund": refund.amount if refund else 0,
        "route": REFUND_ROUTE[reason].value,
    }


def _pay(ctx: Ctx, refund: Refund, paid_to: dict, into: AccountKind = AccountKind.CASH) -> int:
    source = system_account(ctx.session, AccountKind.REFUNDS)
    refund.payout_entry_id = post_entry(
        ctx,
        EntryKind.REFUND_PAYOUT,
        [(source, system_account(ctx.session, into), refund.amount)],
        amount=refund.amount,
        card_id=refund.card_id,
    )
    refund.state = RefundState.PAID
    refund.paid_at = ctx.now
    refund.paid_to = paid_to
    return refund.amount


def _lock_pending(ctx: Ctx, refund_id: int) -> Refund:
    refund = ctx.session.scalar(select(Refund).where(Refund.id == refund_id).with_for_update())
    if refund is None:
        raise NotFound(what_zh="退款", what_en="refund", key=refund_id)
    if refund.state != RefundState.PENDING:
        raise Conflict(reason_zh="该笔退款已支付", reason_en="this refund has been paid")
    return refund


def _bank_card_on_file():
    """SQL: the refund's holder has a bank card on file (bound as R09 describes)."""
    return (
        select(CardAccount.id)
        .join(Card, Card.card_account_id == CardAccount.id)
        .where(Card.id == Refund.card_id, func.coalesce(CardAccount.bank_card_no, "") != "")
        .exists()
    )


@idempotent("pay_refund")
def pay_refund(ctx: Ctx, refund_id: int, *, claimant: dict | None = None) -> dict:
    """Pay a pending refund in cash at the counter; a claimant's name and ID are recorded.
    A graduate's bank refund is paid here only if the holder has no bank card on file, which
    no bank batch can reach (R14, decided); `paid_to` notes it."""
    refund = _lock_pending(ctx, refund_id)
    paid_to = {"to": "holder"}
    if refund.route == RefundRoute.BANK:
        bank_card = select(CardAccount.bank_card_no).join(
            Card, Card.card_account_id == CardAccount.id
        )
        if ctx.session.scalar(bank_card.where(Card.id == refund.card_id)):
            raise Conflict(
                reason_zh="该退款经银行批量退回", reason_en="this refund goes by bank batch"
            )
        paid_to = {"to": "holder", "note": "no bank card on file"}
    if refund.route == RefundRoute.CLAIMANT:
        name, number = (str((claimant or {}).get(k) or "").strip() for k in ("name", "id_number"))
        if not name or not number:
            raise InvalidInput(
                reason_zh="须登记合法领取人的姓名和证件号码",
                reason_en="the lawful claimant's name and ID number are required",
            )
        paid_to = {"to": "claimant", "name": name, "id_number": number}
    paid = _pay(ctx, refund, paid_to)
    return {"refund_id": refund.id, "paid_out": paid}


def pay_bank_refunds(ctx: Ctx, refund_ids: list[int] | None = None) -> dict:
    """R14: refund graduates' balances in one batch to their subsidy bank cards.

    With `refund_ids` (one termination's batch, as the settlement centre sent it to the bank):
    exactly those, or Conflict and nothing paid if any is unknown, not a bank refund or not
    pending. Without (the daily job): every pending bank refund whose holder has a bank card
    on file; `without_bank_card` counts those left out (they are paid at the counter)."""
    if refund_ids is not None:
        refunds, left_out = _lock_batch(ctx, refund_ids), {}
    else:
        due = (Refund.route == RefundRoute.BANK, Refund.state == RefundState.PENDING)
        query = select(Refund).where(*due, _bank_card_on_file()).order_by(Refund.id)
        refunds = ctx.session.scalars(query.with_for_update(skip_locked=True)).all()
        without = select(func.count(Refund.id)).where(*due, ~_bank_card_on_file())
        left_out = {"without_bank_card": ctx.session.scalar(without)}
    paid_to = {"to": "subsidy bank card"}
    total = sum(_pay(ctx, refund, paid_to, AccountKind.BANK) for refund in refunds)
    return {"count": len(refunds), "total": total, "refund_ids": [r.id for r in refunds]} | left_out


def _lock_batch(ctx: Ctx, refund_ids: list[int]) -> list[Refund]:
    """Lock the refunds `refund_ids` in id order; Conflict unless each is a pending bank
    refund."""
    ids, refunds = sorted(set(refund_ids)), []
    for start in range(0, len(ids), _CHUNK):
        query = select(Refund).where(Refund.id.in_(ids[start : start + _CHUNK]))
        refunds += ctx.session.scalars(query.order_by(Refund.id).with_for_update()).all()
    found = {refund.id for refund in refunds}
    wrong = {
        ("不存在", "unknown"): [i for i in ids if i not in found],
        ("不经银行退回", "not bank refunds"): [
            r.id for r in refunds if r.route != RefundRoute.BANK
        ],
        ("已支付", "paid already"): [r.id for r in refunds if r.state != RefundState.PENDING],
    }
    problems = [_named(zh, en, bad) for (zh, en), bad in wrong.items() if bad]
    if problems:
        raise Conflict(
            reason_zh="银行退款批次与账务不符，未支付任何一笔："
            + "；".join(zh for zh, _ in problems),
            reason_en="the bank batch disagrees with the ledger, nothing was paid: "
            + "; ".join(en for _, en in problems),
        )
    return refunds


def _named(zh: str, en: str, ids: list[int]) -> tuple[str, str]:
    shown, more = ", ".join(str(i) for i in ids[:_SHOWN]), " ..." if len(ids) > _SHOWN else ""
    return (
        f"{zh}的退款 {shown.replace(', ', '、')}{more}（共 {len(ids)} 笔）",
        f"{en}: {shown}{more} ({len(ids)} in all)",
    )

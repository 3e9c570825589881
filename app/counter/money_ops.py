"""Money at the counter: cash top-ups in the counter's hours (R09) and refunds paid out in
cash to the holder or a lawful claimant (R14, R19)."""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.counter import records, schemas
from app.counter.labels import label, refund_reason
from app.counter.operation import FieldProblem, Operation, Refused, Row, identity_rows, money
from app.counter.records import Record
from app.i18n import current_language
from ledger.context import Ctx
from ledger.errors import InvalidAmount
from ledger.models.cards import Card, CardState
from ledger.models.journal import EntryKind, JournalEntry
from ledger.models.money import Refund, RefundRoute, RefundState
from ledger.ops.closing import pay_refund
from ledger.ops.common import check_amount
from ledger.ops.money import TopUpMethod, counter_open, top_up

#: The card states a top-up is taken for (a lost card keeps its account).
TOP_UP_STATES = (CardState.ACTIVE, CardState.LOST)


class TopUpCash(Operation):
    """R09: cash paid in at the counter goes straight onto the purse."""

    name, title, schema = "top-up", _l("现金充值"), schemas.TOP_UP
    entry_kinds = (EntryKind.TOPUP_CASH,)

    def applies_to(self, ctx: Ctx, card: Card) -> bool:
        return card.state in TOP_UP_STATES

    def notice(self, ctx: Ctx, card: Card) -> str | None:
        if counter_open(ctx, ctx.now):
            return None
        hours = ", ".join(f"{start:%H:%M}-{end:%H:%M}" for start, end in ctx.config.counter_hours)
        return _("现在不是现金充值时间：柜台现金充值在周一至周五 %(hours)s 办理", hours=hours)

    def check(self, ctx: Ctx, card: Card, data: dict) -> None:
        try:
            check_amount(ctx, data["amount"])
        except InvalidAmount as exc:
            raise FieldProblem("amount", exc.message(current_language())) from None
        closed = self.notice(ctx, card)
        if closed:
            raise Refused(closed)

    def preview(self, ctx: Ctx, card: Card, data: dict) -> list[Row]:
        balance = card.account.purse.balance
        return [
            (_("卡号"), card.card_no),
            (_("充值方式"), _("现金")),
            (_("充值金额"), money(data["amount"])),
            (_("当前余额"), money(balance)),
            (_("充值后余额"), money(balance + data["amount"])),
        ]

    def run(self, ctx: Ctx, card: Card, data: dict, key: str | None) -> dict:
        return top_up(ctx, card.card_no, data["amount"], TopUpMethod.CASH, idempotency_key=key)

    def receipt(self, ctx: Ctx, record: Record) -> list[Row]:
        card = records.card_of(ctx.session, record)
        purse, transitional = records.balances_as_of(ctx.session, card.account, record)
        rows = [
            (_("卡号"), card.card_no),
            (_("充值方式"), _("现金")),
            (_("充值金额"), money(record.amount)),
            (_("充值后余额"), money(purse)),
        ]
        if transitional:
            rows.append((_("过渡余额"), money(transitional)))
        return rows


class PayRefund(Operation):
    """R14, R19: a pending refund paid in cash; a claimant's name and ID are recorded."""

    name, title, schema, target = "refund", _l("退款支付"), schemas.REFUND, "refund"
    entry_kinds = (EntryKind.REFUND_PAYOUT,)

    def applies_to(self, ctx: Ctx, refund: Refund) -> bool:
        return refund.state == RefundState.PENDING

    def check(self, ctx: Ctx, refund: Refund, data: dict) -> None:
        by_claimant = refund.route == RefundRoute.CLAIMANT
        if by_claimant and not data["claimant"]:
            raise FieldProblem("claimant", _("须登记合法领取人的姓名和证件"))
        if data["claimant"] and not by_claimant:
            raise FieldProblem("claimant", _("此笔退款由持卡人本人领取，不填领取人"))

    def _rows(self, ctx: Ctx, refund: Refund, amount: int) -> list[Row]:
        card = ctx.session.get(Card, refund.card_id)
        return [
            (_("退款编号"), str(refund.id)),
            (_("卡号"), card.card_no),
            (_("退款原因"), refund_reason(refund.reason)),
            (_("退款方式"), label(refund.route)),
            (_("支付现金"), money(amount)),
        ]

    def _who(self, claimant: dict | None, masked: bool) -> list[Row]:
        if claimant is None:
            return [(_("领取人"), _("持卡人本人"))]
        return identity_rows(_("领取人"), claimant, masked)

    def preview(self, ctx: Ctx, refund: Refund, data: dict) -> list[Row]:
        return self._rows(ctx, refund, refund.amount) + self._who(data["claimant"], masked=False)

    def run(self, ctx: Ctx, refund: Refund, data: dict, key: str | None) -> dict:
        return pay_refund(ctx, refund.id, claimant=data["claimant"], idempotency_key=key)

    def record(self, ctx: Ctx, result: dict) -> JournalEntry | None:
        refund = ctx.session.get(Refund, result["refund_id"])
        return ctx.session.get(JournalEntry, refund.payout_entry_id)

    def recorded_by(self, ctx: Ctx, record: Record) -> bool:
        found = super().recorded_by(ctx, record)
        return found and records.refund_paid_by(ctx.session, record) is not None

    def receipt(self, ctx: Ctx, record: Record) -> list[Row]:
        refund = records.refund_paid_by(ctx.session, record)
        paid_to = refund.paid_to or {}
        if paid_to.get("to") == "delegate":  # a cancellation's balance, to its delegate
            who = [(_("领取人"), _("代办人"))]
        else:
            who = self._who(paid_to if paid_to.get("to") == "claimant" else None, masked=True)
        return self._rows(ctx, refund, record.amount) + who


MONEY_OPERATIONS = (TopUpCash(),)
REFUND = PayRefund()

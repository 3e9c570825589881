"""Card operations at the counter: issue (R01-R04), reissue in person or by a delegate (R15,
R16), report loss and unfreeze (R13), cancel with the balance paid in cash (R14, R18)."""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.counter import records, schemas
from app.counter.labels import label
from app.counter.operation import FieldProblem, Operation, Refused, Row, identity_rows, money
from app.counter.records import Record
from app.i18n import current_language
from app.web import env
from forms.cards import DELEGATED
from ledger.context import Ctx
from ledger.errors import InvalidInput
from ledger.models.cards import Card, CardState, CardType, Channel
from ledger.models.journal import EntryKind, JournalEntry
from ledger.models.people import Person
from ledger.ops.cards import (
    CARD_TYPE_FOR,
    issue_card,
    issue_fee,
    live_card,
    refuse_second_card,
    report_loss,
    temporary_expiry,
    unfreeze_card,
)
from ledger.ops.closing import cancel_card
from ledger.ops.metering import open_hold
from ledger.ops.reissue import REISSUABLE, reissue_card, reissue_fee
from workflows.procedures.cards import CANCELLABLE, cancellation_problems

#: Why the ledger owes a cancelled card's balance back (Refund.reason of a cancellation).
CANCELLED = "cancelled"


def _card_rows(card: Card) -> list[Row]:
    return [(_("卡号"), card.card_no), (_("卡类型"), label(card.card_type))]


def _new_number(given: str | None) -> str:
    return given or _("系统自动分配")


class IssueCard(Operation):
    """R01-R04: the card type follows the person's category; a temporary card runs to the
    end of the working period, at most a year; the fee (R03) is paid in cash."""

    name, title, schema, target = "issue", _l("发卡"), schemas.ISSUE, "person"
    entry_kinds, event_reason = (EntryKind.CARD_FEE,), "issued"

    def applies_to(self, ctx: Ctx, person: Person) -> bool:
        return live_card(ctx, person.id) is None

    def _working_period_end(self, person: Person, data: dict):
        """The end of the working period a temporary card is asked for; None for others."""
        temporary = CARD_TYPE_FOR[person.category] == CardType.TEMPORARY
        return data["valid_until"] if temporary else None

    def _expiry(self, ctx: Ctx, person: Person, data: dict):
        if CARD_TYPE_FOR[person.category] != CardType.TEMPORARY:
            return None
        if data.get("valid_until") is None:
            raise FieldProblem("valid_until", _("临时卡须填写在校工作截止日期"))
        try:
            return temporary_expiry(ctx, data["valid_until"])
        except InvalidInput as exc:
            raise FieldProblem("valid_until", exc.message(current_language())) from None

    def check(self, ctx: Ctx, person: Person, data: dict) -> None:
        refuse_second_card(ctx, person)
        self._expiry(ctx, person, data)

    def preview(self, ctx: Ctx, person: Person, data: dict) -> list[Row]:
        card_type = CARD_TYPE_FOR[person.category]
        expiry = self._expiry(ctx, person, data)
        return [
            (_("卡类型"), label(card_type)),
            (_("发放卡号"), _new_number(data["new_card_no"])),
            (_("有效期至"), expiry.isoformat() if expiry else _("长期有效")),
            (_("工本费（现金）"), money(issue_fee(ctx, person, card_type))),
        ]

    def run(self, ctx: Ctx, person: Person, data: dict, key: str | None) -> dict:
        return issue_card(
            ctx,
            person.id,
            card_no=data["new_card_no"],
            valid_until=self._working_period_end(person, data),
            idempotency_key=key,
        )

    def recorded_by(self, ctx: Ctx, record: Record) -> bool:
        card = records.card_of(ctx.session, record)
        return super().recorded_by(ctx, record) and card is not None and card.replaces_id is None

    def receipt(self, ctx: Ctx, record: Record) -> list[Row]:
        card = records.card_of(ctx.session, record)
        issued = records.first_event(ctx.session, card.id, "issued")
        # An extension moves the expiry on: the first one's "from" is the expiry as issued.
        extended = records.first_event(ctx.session, card.id, "extended")
        expires_on = extended.details["from"] if extended else card.expires_on
        return [
            *_card_rows(card),
            (_("有效期至"), str(expires_on) if expires_on else _("长期有效")),
            (_("工本费（现金）"), money((issued.details or {}).get("fee", 0) if issued else 0)),
            (_("初始密码"), _("查询密码和消费密码均为证件号码后六位（X 不计），请尽快修改")),
        ]


class _Delegable(Operation):
    """An operation a delegate may come for (R16): their identity and evidence are shown
    and recorded."""

    def delegate(self, data: dict) -> dict | None:
        """The delegate's identity and evidence as the ledger records them, or None."""
        return data.get("delegate") or None

    def who_rows(self, delegate: dict | None, masked: bool) -> list[Row]:
        """Who came: the holder, or the `delegate` with their ID and evidence."""
        if delegate is None:
            return [(_("办理人"), _("持卡人本人"))]
        return identity_rows(_("代办人"), delegate, masked)


class ReissueCard(_Delegable):
    """R15-R17: a new card on the same account and balance; the old card is void at once."""

    name, title, schema = "reissue", _l("补办"), schemas.REISSUE
    entry_kinds, event_reason = (EntryKind.CARD_FEE,), "reissued"

    def applies_to(self, ctx: Ctx, card: Card) -> bool:
        return card.state in REISSUABLE

    def initial(self, card: Card) -> dict:
        return {"mode": "in_person", "reason": "lost" if card.state == CardState.LOST else ""}

    def delegate(self, data: dict) -> dict | None:
        return data.get("delegate") if data.get("mode") == DELEGATED else None

    def check(self, ctx: Ctx, card: Card, data: dict) -> None:
        fee, balance = reissue_fee(ctx, card), card.account.purse.balance
        if data["fee_from_balance"] and balance < fee:
            message = _(
                "卡内余额 %(balance)s 不足以支付工本费 %(fee)s，请改收现金",
                balance=money(balance),
                fee=money(fee),
            )
            raise FieldProblem("fee_from_balance", message)

    def _fee_rows(self, fee: int, from_balance: bool) -> list[Row]:
        paid = _("从卡内余额扣除") if from_balance else _("现金")
        return [(_("工本费"), _("%(what)s（%(detail)s）", what=money(fee), detail=paid))]

    def preview(self, ctx: Ctx, card: Card, data: dict) -> list[Row]:
        fee, balance = reissue_fee(ctx, card), card.account.purse.balance
        after = balance - fee if data["fee_from_balance"] else balance
        return [
            (_("原卡号（补办后立即作废）"), card.card_no),
            (_("补办原因"), label(data["reason"])),
            (_("新卡号"), _new_number(data["new_card_no"])),
            *self._fee_rows(fee, data["fee_from_balance"]),
            (_("新卡余额"), money(after)),
            *self.who_rows(self.delegate(data), masked=False),
        ]

    def run(self, ctx: Ctx, card: Card, data: dict, key: str | None) -> dict:
        return reissue_card(
            ctx,
            card.card_no,
            channel=Channel.COUNTER,
            fee_from_balance=data["fee_from_balance"],
            new_card_no=data["new_card_no"],
            delegate=self.delegate(data),
            idempotency_key=key,
        )

    def recorded_by(self, ctx: Ctx, record: Record) -> bool:
        """The fee's entry, or the new card's event (the old card's names the delegate)."""
        card = records.card_of(ctx.session, record)
        new_card = getattr(record, "from_state", None) is None
        replaces = card is not None and card.replaces_id is not None
        return super().recorded_by(ctx, record) and new_card and replaces

    def receipt(self, ctx: Ctx, record: Record) -> list[Row]:
        session = ctx.session
        new = records.card_of(session, record)
        old = session.get(Card, new.replaces_id)
        issued = records.first_event(session, new.id, "reissued")
        fee = (issued.details or {}).get("fee", 0)
        entry = record if isinstance(record, JournalEntry) else None
        from_balance = entry is not None and records.paid_from_purse(session, entry, new.account)
        voided = records.first_event(session, old.id, "reissued")
        return [
            (_("原卡号（已作废）"), old.card_no),
            (_("新卡号"), new.card_no),
            *self._fee_rows(fee, from_balance),
            (_("新卡余额"), money(records.balances_as_of(session, new.account, record)[0])),
            *self.who_rows(records.delegate_of(session, voided and voided.id), masked=True),
            (_("提示"), _("补办当天新卡不能在图书馆、校医院、校车上使用，次日起可正常使用")),
        ]


class _StateChange(Operation):
    """Report loss or unfreeze at the counter (R13): the holder's ID is checked, no money."""

    schema, keyed = schemas.CHECKED, False
    from_state: CardState
    to_state: CardState
    note: str

    def applies_to(self, ctx: Ctx, card: Card) -> bool:
        return card.state == self.from_state

    def preview(self, ctx: Ctx, card: Card, data: dict) -> list[Row]:
        change = f"{label(card.state)} → {label(self.to_state)}"
        return [*_card_rows(card), (_("卡片状态"), change), (_("提示"), str(self.note))]

    def receipt(self, ctx: Ctx, record: Record) -> list[Row]:
        card = records.card_of(ctx.session, record)
        state = label(record.to_state)
        return [*_card_rows(card), (_("卡片状态"), state), (_("提示"), str(self.note))]


class ReportLoss(_StateChange):
    """R13: the card stops working at once."""

    name, title, danger, event_reason = "loss", _l("挂失"), True, "reported lost"
    from_state, to_state = CardState.ACTIVE, CardState.LOST
    note = _l("挂失后该卡立即停止使用；挂失前发生的损失由持卡人承担")

    def run(self, ctx: Ctx, card: Card, data: dict, key: str | None) -> dict:
        return report_loss(ctx, card.card_no, Channel.COUNTER)


class Unfreeze(_StateChange):
    """R13: a found card works again (a card voided by a reissue never does, R15)."""

    name, title, event_reason = "unfreeze", _l("解挂"), "found and unfrozen"
    from_state, to_state = CardState.LOST, CardState.ACTIVE
    note = _l("解挂后该卡恢复正常使用")

    def run(self, ctx: Ctx, card: Card, data: dict, key: str | None) -> dict:
        return unfreeze_card(ctx, card.card_no, Channel.COUNTER)


class CancelCard(_Delegable):
    """R14, R18: the card is cancelled and its whole balance handed over in cash."""

    name, title, schema, danger = "cancel", _l("注销"), schemas.CANCEL, True
    event_reason = "cancelled by holder"

    def applies_to(self, ctx: Ctx, card: Card) -> bool:
        return card.state in CANCELLABLE

    def check(self, ctx: Ctx, card: Card, data: dict) -> None:
        problems = cancellation_problems(
            env(), card, data["reason"], data["card_presented"], self.delegate(data)
        )
        if problems:
            english = current_language() == "en"
            raise Refused("；".join(en if english else zh for zh, en in problems))

    def preview(self, ctx: Ctx, card: Card, data: dict) -> list[Row]:
        account = card.account
        rows = [
            *_card_rows(card),
            (_("离校原因"), label(data["reason"])),
            (_("卡内余额"), money(account.purse.balance)),
            (_("过渡余额"), money(account.transitional.balance)),
            (_("退还现金"), money(account.purse.balance + account.transitional.balance)),
        ]
        hold = open_hold(ctx, account)
        if hold is not None:
            note = _("未结算的水控预扣 %(amount)s 按预扣全额结算", amount=money(hold.amount))
            rows.append((_("提示"), note))
        return rows + self.who_rows(self.delegate(data), masked=False)

    def run(self, ctx: Ctx, card: Card, data: dict, key: str | None) -> dict:
        return cancel_card(ctx, card.card_no, delegate=self.delegate(data), idempotency_key=key)

    def receipt(self, ctx: Ctx, record: Record) -> list[Row]:
        session = ctx.session
        card = records.card_of(session, record)
        refund = records.refund_of_card(session, card.id, CANCELLED)
        paid = refund.amount if refund is not None and refund.payout_entry_id else 0
        return [
            *_card_rows(card),
            (_("卡片状态"), label(record.to_state)),
            (_("退还现金"), money(paid)),
            *self.who_rows(records.delegate_of(session, record.id), masked=True),
        ]


CARD_OPERATIONS = (ReissueCard(), ReportLoss(), Unfreeze(), CancelCard())
ISSUE = IssueCard()

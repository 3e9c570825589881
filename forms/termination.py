"""Forced termination (R14, R19): the roster filed by HR, academic affairs or the card office,
the IT centre's review, and the settlement centre's confirmation of the bank refund batch.

What needs the card ledger (the cards exist, the names match, the filer may list the reason)
is checked by `workflows.procedures.termination`; these schemas check what the form alone
can tell.
"""

from marshmallow import ValidationError, fields, validate, validates_schema

from forms import register_form
from forms.common import (
    DecisionFields,
    FormSchema,
    UpperString,
    bilingual,
    card_no_field,
    meta,
    name_field,
)
from ledger.models.money import RefundRoute
from ledger.ops.closing import REFUND_ROUTE, TerminationReason

MAX_ENTRIES = 5000
REASONS = tuple(reason.value for reason in TerminationReason)
#: Reasons whose balance is kept for a lawful claimant: filed one person at a time, with the
#: confirming department's evidence (R19).
CLAIMANT_REASONS = frozenset(
    reason.value for reason, route in REFUND_ROUTE.items() if route == RefundRoute.CLAIMANT
)
REASON_LABELS = {
    TerminationReason.GRADUATED: ("毕业", "graduated"),
    TerminationReason.WITHDRAWN: ("退学", "withdrawn"),
    TerminationReason.LEFT: ("离职", "left"),
    TerminationReason.BREACH: ("违规", "breach of the rules"),
    TerminationReason.MISSING: ("失踪", "missing"),
    TerminationReason.DECEASED: ("死亡", "deceased"),
}


def _text(zh: str, en: str, high: int, **presence) -> fields.String:
    error = bilingual(f"须为 1 至 {high} 个字符", f"1-{high} characters")
    return fields.String(
        validate=validate.Length(min=1, max=high, error=error),
        metadata=meta(zh, en),
        **(presence or {"required": True}),
    )


class TerminationEntry(FormSchema):
    """One card to end: its number, the holder's name (and ID number, if known), why."""

    card_no = card_no_field()
    name = name_field("持卡人姓名", "Holder's name")
    id_number = UpperString(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=40, error=bilingual("证件号码过长", "ID number too long")),
        metadata=meta("证件号码（选填）", "ID number (optional)"),
    )
    reason = fields.String(
        required=True,
        validate=validate.OneOf(
            REASONS,
            error=bilingual(
                "终止原因须为毕业、退学、离职、违规、失踪或死亡",
                "reason must be graduated, withdrawn, left, breach, missing or deceased",
            ),
        ),
        metadata=meta("终止原因", "Reason", "select"),
    )


class Evidence(FormSchema):
    """The responsible department's confirmation of a breach, a disappearance or a death."""

    confirming_department = _text("确认单位（部门代码）", "Confirming department (code)", 32)
    document_ref = _text("证明材料文号", "Reference of the document", 200)


@register_form("termination_request")
class TerminationRequestForm(FormSchema):
    """强制终止申请: a roster of cards to end (graduates, withdrawals, leavers), or one person
    whose card is ended for a breach, a disappearance or a death, with evidence."""

    entries = fields.List(
        fields.Nested(TerminationEntry),
        required=True,
        validate=validate.Length(
            min=1,
            max=MAX_ENTRIES,
            error=bilingual(f"名单须有 1 至 {MAX_ENTRIES} 人", f"list 1-{MAX_ENTRIES} people"),
        ),
        metadata=meta("终止名单", "Cards to end", "table"),
    )
    evidence = fields.Nested(
        Evidence, load_default=None, allow_none=True, metadata=meta("证明材料", "Evidence")
    )
    note = fields.String(
        load_default="",
        validate=validate.Length(max=1000, error=bilingual("说明过长", "note too long")),
        metadata=meta("说明", "Note", "textarea"),
    )

    @validates_schema
    def _claimants_one_by_one(self, data, **_kwargs):
        entries = data.get("entries") or []
        if not any(entry["reason"] in CLAIMANT_REASONS for entry in entries):
            return
        errors = {}
        if len(entries) > 1:
            errors["entries"] = [
                bilingual("违规、失踪、死亡须逐人申请", "breach, missing, deceased: one person")
            ]
        if data.get("evidence") is None:
            errors["evidence"] = [
                bilingual("须提供确认单位的证明材料", "the confirming department's evidence")
            ]
        if errors:
            raise ValidationError(errors)


@register_form("termination_review")
class TerminationReviewForm(DecisionFields):
    """The IT centre's decision; `excluded` lists card numbers of the roster to spare."""

    excluded = fields.List(
        UpperString(),
        load_default=list,
        validate=validate.Length(
            max=MAX_ENTRIES, error=bilingual("排除名单过长", "too many exclusions")
        ),
        metadata=meta("不予终止的卡号", "Card numbers to exclude", "multiselect"),
    )


@register_form("bank_refund_batch")
class BankRefundBatchForm(FormSchema):
    """The settlement centre has sent the batch to the bank: its reference, confirmed."""

    bank_batch_ref = _text("银行批次号", "Bank batch reference", 64)
    confirmed = fields.Boolean(
        required=True,
        metadata=meta("已导出并提交银行", "Exported and sent to the bank", "checkbox"),
    )

    @validates_schema
    def _confirmed(self, data, **_kwargs):
        if data.get("confirmed") is not True:
            message = bilingual("须确认银行已受理该批次", "confirm the bank accepted the batch")
            raise ValidationError(message, "confirmed")

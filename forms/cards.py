"""Card reissue (R15, R16) and cancellation (R14, R18) at the counter: the request, the
delegate who may act for the holder, and the clerk's record of what was checked, collected
and paid out.

A delegate's identity and evidence are filled in only when a delegate acts: a delegate on a
request the holder makes in person is refused rather than ignored, so that what the ledger
records is what was filed.
"""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from forms import register_form
from forms.common import (
    CounterFields,
    DecisionFields,
    FormSchema,
    IdentitySchema,
    bilingual,
    card_no_field,
    checkbox,
    meta,
    required_when_approving,
)
from ledger.models.cards import EvidenceKind

IN_PERSON, DELEGATED = "in_person", "delegated"
REISSUE_REASONS = ("lost", "damaged")
#: Why a holder leaves (R14): a student withdrawing, staff leaving, a temporary stay ending.
#: Graduates have no reason to come: their cards are cancelled in bulk.
LEAVING_REASONS = ("withdrawn", "left", "stay_ended")


def _choice(zh: str, en: str, choices: tuple[str, ...], widget: str, **presence):
    error = bilingual(f"{zh}无效", f"invalid {en.lower()}")
    return fields.String(
        validate=validate.OneOf(choices, error=error),
        metadata=meta(zh, en, widget),
        **(presence or {"required": True}),
    )


class DelegateSchema(IdentitySchema):
    """A delegate (代办人) acting for the holder (R16): their own name and ID, and what shows
    the holder sent them: the holder's valid ID or a written delegation (委托证明)."""

    evidence = _choice("委托凭证", "Evidence", tuple(kind.value for kind in EvidenceKind), "select")
    evidence_ref = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=200, error=bilingual("不超过 200 字", "at most 200 chars")),
        metadata=meta("凭证编号或说明", "Evidence reference"),
    )

    @validates_schema
    def _written_delegation_is_referenced(self, data, **_kwargs):
        if (
            data.get("evidence") == EvidenceKind.WRITTEN_DELEGATION
            and not (data.get("evidence_ref") or "").strip()
        ):
            message = bilingual("委托证明须登记编号或说明", "say which written delegation")
            raise ValidationError(message, "evidence_ref")


class CancellationDelegateSchema(DelegateSchema):
    """R18: a delegate cancelling a card also brings their own campus card (not for a
    temporary card, whose cancellation needs IDs only)."""

    card_no = card_no_field(
        "代办人本人校园卡号", "Delegate's own card", required=False, load_default=None,
        allow_none=True,
    )  # fmt: skip


def _delegate_field(schema: type[Schema]) -> fields.Nested:
    return fields.Nested(
        schema,
        load_default=None,
        allow_none=True,
        metadata=meta("代办人", "Delegate", "group"),
    )


@register_form("card_reissue")
class CardReissueForm(FormSchema):
    """补办校园卡: filed at the counter, or in advance by a department's applicant for a
    colleague (R15, R16). The fee (R03) is paid in cash or from the card's balance."""

    card_no = card_no_field("需补办的卡号", "Card to replace")
    reason = _choice("补办原因", "Reason", REISSUE_REASONS, "radio")
    mode = _choice("办理方式", "Who comes", (IN_PERSON, DELEGATED), "radio", load_default=IN_PERSON)
    delegate = _delegate_field(DelegateSchema)
    fee_from_balance = checkbox("工本费从卡内余额扣除", "Fee taken from the card's balance")

    @validates_schema
    def _delegate_when_delegated(self, data, **_kwargs):
        delegated, delegate = data.get("mode") == DELEGATED, data.get("delegate")
        if delegated and not delegate:
            message = bilingual(
                "代办须登记代办人本人证件及委托凭证",
                "a delegate's own ID and evidence are required",
            )
            raise ValidationError(message, "delegate")
        if not delegated and delegate:
            message = bilingual("本人办理不填代办人", "no delegate when the holder comes")
            raise ValidationError(message, "delegate")


@register_form("card_reissue_counter")
class CardReissueCounter(CounterFields):
    """At the counter (R15, R16): the holder's ID checked (for a delegate, the delegate's own ID
    and the holder's ID or written delegation), the fee collected; approving reissues."""

    identity_checked = checkbox(
        "已核验证件（代办：代办人本人证件及持卡人证件或委托证明）",
        "ID checked (a delegate: their own ID and the holder's ID or written delegation)",
    )
    fee_paid = checkbox(
        "已收取工本费（现金，或确认从卡内余额扣除）", "Fee collected (cash, or from the balance)"
    )


@register_form("card_cancellation")
class CardCancellationForm(FormSchema):
    """注销: a holder leaving cancels the card at the counter with the card and valid ID; a
    delegate also brings their own card and ID; a temporary card needs IDs only (R18)."""

    card_no = card_no_field("注销卡号", "Card to cancel")
    reason = _choice("离校原因", "Leaving because", LEAVING_REASONS, "select")
    identity_checked = checkbox(
        "已核验持卡人（及代办人）有效证件", "The holder's (and delegate's) ID checked"
    )
    card_presented = checkbox("持卡人校园卡已交回", "The holder's card handed in")
    delegate = _delegate_field(CancellationDelegateSchema)

    @validates_schema
    def _identity(self, data, **_kwargs):
        if data.get("identity_checked") is not True:
            message = bilingual("注销须当面核验有效证件", "the ID must be checked in person")
            raise ValidationError(message, "identity_checked")


@register_form("card_cancellation_counter")
class CardCancellationCounter(DecisionFields):
    """At the counter: the balance handed over in cash (R14); approving cancels the card."""

    cash_handed_over = checkbox(
        "卡内余额已以现金当面点交（余额为零时确认即可）", "Balance handed over in cash"
    )

    @validates_schema
    def _paid(self, data, **_kwargs):
        required_when_approving(data, {"cash_handed_over": ("余额已点交", "the cash payout")})

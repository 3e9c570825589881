"""What the API's card and merchant endpoints take and answer, as marshmallow schemas (dumped
to JSON and described in the OpenAPI document).

Amounts are integers in fen (1/100 yuan), named as the ledger names them (`amount`,
`balance`, `fee` ...). Moments are ISO 8601 date-times, days ISO dates (YYYY-MM-DD)."""

from marshmallow import Schema, fields, validate

from app.counter.labels import label
from app.i18n import pick
from ledger.models.cards import CardState, CardType
from ledger.models.merchants import MerchantCategory, OpenState


def fen(description: str, **kwargs) -> fields.Integer:
    """An amount in fen, described as such in the OpenAPI document."""
    return fields.Integer(metadata={"description": f"{description}, in fen"}, **kwargs)


def values_of(enum) -> str:
    """The values an enum field takes, for its description."""
    return ", ".join(member.value for member in enum)


# --- cardholders and cards ----------------------------------------------------------------


class CardholderArgs(Schema):
    q = fields.String(
        required=True,
        validate=validate.Length(min=1, max=100),
        metadata={
            "description": "part of the name, the start of a card number (4 digits or more) "
            "or the last 4 to 6 characters of the ID number"
        },
    )
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=50))


class CardBriefSchema(Schema):
    card_no = fields.String()
    card_type = fields.String(metadata={"description": values_of(CardType)})
    state = fields.String(metadata={"description": values_of(CardState)})
    issued_at = fields.DateTime()
    expires_on = fields.Date(allow_none=True, metadata={"description": "temporary cards only"})


class CardholderSchema(Schema):
    person_id = fields.Integer()
    name = fields.String()
    id_type = fields.String(metadata={"description": "resident_id, passport, other"})
    id_number = fields.String(metadata={"description": "whole for the card office, else masked"})
    category = fields.String(metadata={"description": "faculty, undergraduate ..."})
    department = fields.String(metadata={"description": "in the caller's language"})
    cards = fields.List(
        fields.Nested(CardBriefSchema), metadata={"description": "every card held, newest first"}
    )


class OpenHoldSchema(Schema):
    amount = fen("what the controller pre-deducted")
    terminal = fields.String(metadata={"description": "the controller's code"})
    opened_at = fields.DateTime()


class CardFactsSchema(CardBriefSchema):
    person_id = fields.Integer()
    holder_name = fields.String()
    balance = fen("the purse (卡内余额)")
    transitional = fen("the transitional balance (过渡余额): WeChat top-ups not yet claimed")
    daily_limit = fen("what may be spent a day without the consumption password")
    spent_today = fen("spent by purchases today (campus day)")
    bank_card = fields.String(
        allow_none=True, metadata={"description": "the bound Bank of China card, masked"}
    )
    hold = fields.Nested(
        OpenHoldSchema, allow_none=True, metadata={"description": "the open pre-deduction, if any"}
    )


class CardStateChangeSchema(Schema):
    card_no = fields.String()
    state = fields.String(metadata={"description": values_of(CardState)})


# --- statements ---------------------------------------------------------------------------


class StatementArgs(Schema):
    first = fields.String(
        data_key="from",
        load_default=None,
        metadata={"format": "date", "description": "first campus day; default: 30 days back"},
    )
    last = fields.String(
        data_key="to",
        load_default=None,
        metadata={"format": "date", "description": "last campus day (at most 366 days in all)"},
    )


class HolderBalancesSchema(Schema):
    purse = fen("the purse")
    transitional = fen("the transitional balance")
    total = fen("both")


class StatementLineSchema(Schema):
    at = fields.DateTime()
    kind = fields.String(metadata={"description": "the journal entry's kind: purchase ..."})
    label = fields.Function(
        lambda line: label(line["kind"]), metadata={"description": "the kind, in words"}
    )
    place = fields.String(metadata={"description": "merchant and terminal, if any"})
    amount_in = fen("what came in", allow_none=True)
    amount_out = fen("what went out", allow_none=True)
    after = fields.Nested(HolderBalancesSchema, metadata={"description": "the balances after it"})


class CardStatementSchema(Schema):
    name = fields.String()
    masked_id = fields.String()
    department = fields.String()
    cards = fields.List(fields.String())
    first = fields.Date()
    last = fields.Date()
    opening = fields.Nested(HolderBalancesSchema)
    closing = fields.Nested(HolderBalancesSchema)
    total_in = fen("what came in over the range")
    total_out = fen("what went out over the range")
    with_transitional = fields.Boolean(
        metadata={"description": "whether the transitional balance was used"}
    )
    lines = fields.List(fields.Nested(StatementLineSchema))


# --- top-ups ------------------------------------------------------------------------------


class TopUpSchema(Schema):
    card_no = fields.String(required=True, validate=validate.Length(min=1, max=20))
    amount = fen("what was paid", required=True, strict=True, validate=validate.Range(min=1))
    method = fields.String(
        required=True,
        validate=validate.OneOf(["bank", "wechat"]),
        metadata={"description": "bank: 圈存 to the purse; wechat: to the transitional balance"},
    )
    reference = fields.String(
        required=True,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "the payer system's transaction id"},
    )


class TopUpResultSchema(Schema):
    card_no = fields.String()
    amount = fen("what was paid")
    method = fields.String()
    reference = fields.String()
    balance = fen("the purse after it")
    transitional = fen("the transitional balance after it")
    entry_id = fields.Integer(metadata={"description": "the journal entry"})


# --- merchants and settlements ------------------------------------------------------------


class MerchantArgs(Schema):
    q = fields.String(load_default="", metadata={"description": "part of the code or name"})
    category = fields.String(load_default="", validate=validate.OneOf(["", *MerchantCategory]))
    state = fields.String(load_default="", validate=validate.OneOf(["", *OpenState]))


class MerchantSchema(Schema):
    code = fields.String()
    name = fields.String()
    category = fields.String(metadata={"description": values_of(MerchantCategory)})
    location = fields.String()
    commercial = fields.Boolean(metadata={"description": "pays the management fee (R11)"})
    fee_rate_bp = fields.Integer(metadata={"description": "the fee in basis points: 50 = 0.5%"})
    settlement_days = fields.Integer(metadata={"description": "the settlement period"})
    settlement_account = fields.String(allow_none=True)
    state = fields.String(metadata={"description": values_of(OpenState)})
    settled_through = fields.Date(metadata={"description": "the last day settled"})
    supervising_department = fields.Function(
        lambda merchant: pick(merchant.supervising_department, "name"),
        metadata={"description": "in the caller's language"},
    )


class SettlementListArgs(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class SettlementSchema(Schema):
    id = fields.Integer()
    merchant = fields.String(attribute="merchant.code")
    period_start = fields.Date()
    period_end = fields.Date()
    turnover = fen("purchases and metered payments of the period")
    adjustments = fen("what adjustments gave back")
    fee = fen("the management fee")
    payout = fen("paid to the merchant's settlement account")
    entry_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()


class AdjustmentLineSchema(Schema):
    entry_id = fields.Integer()
    at = fields.DateTime()
    corrects_id = fields.Integer(allow_none=True, metadata={"description": "the purchase"})
    card_no = fields.String()
    amount = fen("given back")
    reason = fields.String()
    who = fields.String(metadata={"description": "the clerk who made it"})


class SettlementStatementSchema(Schema):
    id = fields.Integer()
    merchant_code = fields.String()
    merchant_name = fields.String()
    supervisor = fields.String()
    settlement_account = fields.String(allow_none=True)
    period_start = fields.Date()
    period_end = fields.Date()
    settled_at = fields.DateTime()
    entry_id = fields.Integer(allow_none=True)
    purchases = fields.Integer(metadata={"description": "how many purchases were made"})
    turnover = fen("purchases and metered payments of the period")
    adjustments = fen("what adjustments gave back")
    net_turnover = fen("turnover less adjustments")
    fee_rate_bp = fields.Integer(metadata={"description": "the fee in basis points"})
    fee = fen("the management fee")
    payout = fen("paid to the merchant's settlement account")
    adjustment_lines = fields.List(fields.Nested(AdjustmentLineSchema))


class MerchantSettledSchema(Schema):
    merchant = fields.String()
    settlement_id = fields.Integer()
    period_start = fields.String(metadata={"format": "date"})
    period_end = fields.String(metadata={"format": "date"})
    turnover = fen("purchases and metered payments of the period")
    adjustments = fen("what adjustments gave back")
    fee = fen("the management fee")
    payout = fen("paid to the merchant's settlement account")


class SettlementRunSchema(Schema):
    settlements = fields.List(
        fields.Nested(MerchantSettledSchema),
        metadata={"description": "one for each merchant settled"},
    )

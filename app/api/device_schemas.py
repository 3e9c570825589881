"""What terminals and kiosks send and get back (amounts are integer fen). Every body states
the device's `location`: the key is refused anywhere but where the device is registered (R23)."""

from marshmallow import Schema, fields, validate

from ledger.ops.services import PasswordKind

PASSWORD = {"validate": validate.Regexp(r"^\d{6}$"), "metadata": {"description": "6 digits"}}
FEN = {"strict": True, "validate": validate.Range(min=1), "metadata": {"description": "fen"}}


class DeviceCardArgs(Schema):
    location = fields.String(
        required=True, metadata={"description": "where the device stands, as registered"}
    )
    card_no = fields.String(required=True, validate=validate.Length(min=1, max=32))


class TerminalPurchaseArgs(DeviceCardArgs):
    amount = fields.Integer(required=True, **FEN)
    consume_password = fields.String(
        load_default=None, **PASSWORD | {"metadata": {"description": "above the daily limit"}}
    )


class TerminalPreDeductArgs(DeviceCardArgs):
    amount = fields.Integer(required=True, **FEN)


class TerminalSettleArgs(DeviceCardArgs):
    used = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=0), metadata={"description": "fen"}
    )


class PurchasedSchema(Schema):
    card_no = fields.String()
    amount = fields.Integer()
    balance = fields.Integer()
    merchant = fields.String()
    entry_id = fields.Integer()


class PreDeductedSchema(Schema):
    card_no = fields.String()
    hold_id = fields.Integer()
    held = fields.Integer()
    entry_id = fields.Integer()


class HoldSettledSchema(Schema):
    card_no = fields.String()
    used = fields.Integer()
    returned = fields.Integer()
    balance = fields.Integer()
    entry_id = fields.Integer(allow_none=True)


class TransitionalClaimedSchema(Schema):
    card_no = fields.String()
    claimed = fields.Integer()
    balance = fields.Integer()
    entry_id = fields.Integer(allow_none=True)


class KioskQueryArgs(DeviceCardArgs):
    query_password = fields.String(required=True, **PASSWORD)


class KioskLineSchema(Schema):
    at = fields.DateTime()
    kind = fields.String()
    amount = fields.Integer(metadata={"description": "fen; negative when money left the card"})


class KioskCardSchema(Schema):
    card_no = fields.String()
    state = fields.String()
    card_type = fields.String()
    balance = fields.Integer()
    transitional = fields.Integer()
    daily_limit = fields.Integer()
    expires_on = fields.Date(allow_none=True)
    recent = fields.List(fields.Nested(KioskLineSchema))


class LossStateSchema(Schema):
    card_no = fields.String()
    state = fields.String()


class KioskReissueArgs(DeviceCardArgs):
    id_number = fields.String(
        required=True, validate=validate.Length(min=1, max=32),
        metadata={"description": "read from the holder's ID card"},
    )  # fmt: skip
    new_card_no = fields.String(
        required=True, validate=validate.Length(min=1, max=32),
        metadata={"description": "the blank card the kiosk dispensed"},
    )  # fmt: skip


class KioskReissuedSchema(Schema):
    card_no = fields.String()
    replaces = fields.String()
    fee = fields.Integer()
    balance = fields.Integer()
    entry_id = fields.Integer(allow_none=True)


class KioskLimitArgs(DeviceCardArgs):
    daily_limit = fields.Integer(
        required=True, strict=True, metadata={"description": "fen, at most 60000"}
    )
    consume_password = fields.String(required=True, **PASSWORD)


class DailyLimitSetSchema(Schema):
    card_no = fields.String()
    daily_limit = fields.Integer()


class KioskPasswordArgs(DeviceCardArgs):
    which = fields.Enum(PasswordKind, by_value=True, required=True)
    old = fields.String(required=True, **PASSWORD)
    new = fields.String(required=True, **PASSWORD)


class PasswordChangedSchema(Schema):
    card_no = fields.String()
    changed = fields.String()


class KioskBankTopUpArgs(DeviceCardArgs):
    amount = fields.Integer(required=True, **FEN)


class BankTopUpSchema(Schema):
    card_no = fields.String()
    amount = fields.Integer()
    balance = fields.Integer()
    transitional = fields.Integer()
    entry_id = fields.Integer()


class KioskNetworkFeeArgs(KioskQueryArgs):
    weeks = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=4))


class NetworkFeePaidSchema(Schema):
    card_no = fields.String()
    amount = fields.Integer()
    weeks = fields.List(fields.String(), metadata={"description": "the Mondays paid for"})
    entry_id = fields.Integer()

"""The printed merchant forms: the 校园卡商户接入申请表 (R11, R23) and the 校园卡商户撤销申请表
(R24), with every field the application holds and each approval, and the merchant on file
(its details and terminals) read from the ledger for an application that names one."""

from marshmallow import Schema, fields
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.models.merchants import Merchant, Terminal
from reports.formats import Yuan
from reports.pdf import Document
from reports.request_forms import (
    ChoiceLabel,
    DecisionSchema,
    RequestFormSchema,
    optional_nested,
    optional_string,
)


class Percent(fields.Field):
    """Dumps basis points as a percentage: 50 -> 0.5%."""

    def _serialize(self, value, attr, obj, **kwargs):
        return f"{value / 100:g}%" if value is not None else ""


class MerchantSchema(Schema):
    """A merchant's details as the application gives them (a new merchant) or as the ledger
    has them (one admitted before): department ids already turned into names."""

    name = optional_string()
    category = ChoiceLabel()
    location = optional_string()
    operator = optional_string()
    supervising = optional_string()
    commercial = fields.Boolean()
    fee_rate = Percent()
    settlement_days = fields.Integer(dump_default=None, allow_none=True)
    settlement_account = optional_string(allow_none=True)


class TerminalSchema(Schema):
    """A terminal: as applied for, or as registered (`state` then: "active" or "closed")."""

    code = fields.String()
    kind = ChoiceLabel()
    location = fields.String()
    state = optional_string()


class MoveSchema(Schema):
    """A registered terminal and the new place it is to work at."""

    terminal_code = fields.String()
    location = fields.String()


class AccountReviewSchema(DecisionSchema):
    """The settlement centre confirmed the account opened with the finance office (R23)."""

    account_confirmed = fields.Boolean(dump_default=False)


class AgreementSchema(DecisionSchema):
    """The commercial merchant's signed access agreement and its number (R11, R23)."""

    agreement_signed = fields.Boolean(dump_default=False)
    agreement_no = optional_string()


class CarriedOutSchema(Schema):
    """The terminals registered and moved once approved, as one line each."""

    registered = fields.Function(lambda done: "、".join(done.get("registered", [])))
    moved = fields.Function(lambda done: "、".join(done.get("moved", [])))


class MerchantOnboardingSchema(RequestFormSchema):
    """校园卡商户接入申请表 (R11, R23): the application, the approvals and what was done."""

    kind = fields.String()
    kind_label = ChoiceLabel(attribute="kind", dump_only=True)
    merchant_code = fields.String()
    merchant = optional_nested(MerchantSchema)
    terminals = fields.List(fields.Nested(TerminalSchema))
    terminal_count = fields.Function(lambda data: len(data["terminals"]))
    moves = fields.List(fields.Nested(MoveSchema))
    supervising_review = optional_nested(DecisionSchema)
    account_review = optional_nested(AccountReviewSchema)
    agreement = optional_nested(AgreementSchema)
    office_review = optional_nested(DecisionSchema)
    carried_out = optional_nested(CarriedOutSchema)


MERCHANT_ONBOARDING = Document(
    "request_merchant_onboarding.html", "校园卡商户接入申请表", MerchantOnboardingSchema()
)


class SettledSchema(Schema):
    """What remained on the merchant's account after settling for the revocation (R24)."""

    remaining = Yuan()
    open_holds = fields.Integer()
    zero = fields.Boolean()


class MerchantRevocationSchema(RequestFormSchema):
    """校园卡商户撤销申请表 (R24): the merchant and its terminals, the reason, the settlement to
    zero, the approvals, and whether it is closed."""

    merchant_code = fields.String()
    reason = optional_string()
    merchant = optional_nested(MerchantSchema)
    terminals = fields.List(fields.Nested(TerminalSchema))
    balance = Yuan(dump_default=None)
    settle_review = optional_nested(DecisionSchema)
    settled = optional_nested(SettledSchema)
    supervising_review = optional_nested(DecisionSchema)
    it_confirm = optional_nested(DecisionSchema)
    closed = fields.Boolean()


MERCHANT_REVOCATION = Document(
    "request_merchant_revocation.html", "校园卡商户撤销申请表", MerchantRevocationSchema()
)


def merchant_on_file(session: Session, code: str) -> dict | None:
    """The merchant `code` as the ledger has it (None if unknown), for `MerchantSchema`, with
    its terminals (by code) for `TerminalSchema`."""
    merchant = session.scalar(select(Merchant).where(Merchant.code == code))
    if merchant is None:
        return None
    query = select(Terminal).where(Terminal.merchant_id == merchant.id).order_by(Terminal.code)
    terminals = [
        {"code": t.code, "kind": t.kind.value, "location": t.location, "state": t.state.value}
        for t in session.scalars(query)
    ]  # fmt: skip
    return {
        "name": merchant.name, "category": merchant.category.value,
        "location": merchant.location, "operator": merchant.operator_department.name_zh,
        "supervising": merchant.supervising_department.name_zh,
        "commercial": merchant.commercial, "fee_rate": merchant.fee_rate_bp,
        "settlement_days": merchant.settlement_days,
        "settlement_account": merchant.settlement_account, "terminals": terminals,
    }  # fmt: skip

"""The merchant forms (R23, R24): the 校园卡商户接入申请表 (a new merchant, or terminals
added or moved), the settlement centre's confirmation of the settlement account and of the
signed access agreement, and the 校园卡商户撤销申请表.

Codes are trimmed and upper-cased. The application's fields depend on its kind: a field that
belongs to another kind is refused rather than ignored, so what was approved is what was filed.
Every message is bilingual, marshmallow's own (a missing or mistyped value) included.
"""

import re

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from forms import register_form
from forms.common import (
    DecisionFields,
    FormSchema,
    UpperString,
    bilingual,
    meta,
    required_when_approving,
)
from ledger.models.merchants import MerchantCategory, TerminalKind

NEW, ADD_TERMINALS, MOVE_TERMINALS = "new", "add_terminals", "move_terminals"
KINDS = (NEW, ADD_TERMINALS, MOVE_TERMINALS)
_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{1,31}$")
_ACCOUNT = re.compile(r"^[0-9A-Z-]{4,40}$")


def code_field(zh: str, en: str, **kwargs) -> UpperString:
    """A merchant or terminal code: 2-32 letters, digits, '-' or '_'."""
    error = bilingual("编号应为 2 至 32 位字母、数字、- 或 _", "2-32 letters, digits, - or _")
    return UpperString(
        validate=validate.Regexp(_CODE, error=error),
        metadata=meta(zh, en),
        **kwargs,
    )


def place_field(zh: str = "安装地点", en: str = "Place", **kwargs) -> fields.String:
    """A place on campus (a building, a floor, a window): 1-100 characters."""
    error = bilingual("地点须为 1 至 100 字", "a place has 1-100 characters")
    return fields.String(
        validate=validate.Length(min=1, max=100, error=error),
        metadata=meta(zh, en),
        **kwargs,
    )


class TerminalFields(FormSchema):
    """A terminal to register: its code, kind and the place it is approved for."""

    code = code_field("终端编号", "Terminal code", required=True)
    kind = fields.String(
        load_default=TerminalKind.POS.value,
        validate=validate.OneOf(
            [k.value for k in TerminalKind], error=bilingual("终端类型无效", "invalid kind")
        ),
        metadata=meta("终端类型", "Kind", "select"),
    )
    location = place_field(required=True)


class MoveFields(FormSchema):
    """A registered terminal and the new place it is to work at."""

    terminal_code = code_field("终端编号", "Terminal code", required=True)
    location = place_field("新安装地点", "New place", required=True)


def _list(schema: type[Schema], zh: str, en: str) -> fields.List:
    too_many = bilingual("一次最多 50 项", "at most 50 at a time")
    return fields.List(
        fields.Nested(schema),
        load_default=list,
        validate=validate.Length(max=50, error=too_many),
        metadata=meta(zh, en, "table"),
    )


class NewMerchantFields(FormSchema):
    """A new merchant's details: what the ledger admits it with (R11, R23). The operator is
    the filing unit; a commercial merchant pays the ledger's 0.5% management fee."""

    name = fields.String(
        required=True,
        validate=validate.Length(min=1, max=100, error=bilingual("须为 1 至 100 字", "1-100")),
        metadata=meta("商户名称", "Merchant name"),
    )
    category = fields.String(
        required=True,
        validate=validate.OneOf(
            [c.value for c in MerchantCategory], error=bilingual("商户类别无效", "invalid category")
        ),
        metadata=meta("商户类别", "Category", "select"),
    )
    location = place_field("经营地点", "Place of business", required=True)
    supervising_department_id = fields.Integer(
        required=True,
        metadata=meta("主管部门", "Supervising department", "select"),
    )
    commercial = fields.Boolean(
        required=True,
        metadata=meta("经营性商户（按营业额 0.5% 收取管理费）", "Commercial", "checkbox"),
    )
    settlement_days = fields.Integer(
        load_default=None,
        validate=validate.Range(min=1, max=366, error=bilingual("须为 1 至 366 天", "1-366 days")),
        metadata=meta("结算周期（天，默认每周）", "Settlement period (days, weekly by default)"),
    )
    settlement_account = UpperString(
        required=True,
        validate=validate.Regexp(
            _ACCOUNT, error=bilingual("结算账户应为 4 至 40 位数字或字母", "4-40 digits/letters")
        ),
        metadata=meta("结算账户（财务处开立）", "Settlement account (finance office)"),
    )


@register_form("merchant_application")
class MerchantApplicationForm(FormSchema):
    """校园卡商户接入申请表 (R23), filed by the operating unit: a new merchant (`merchant`,
    its details) with its terminals, more terminals for a merchant of the unit, or terminals
    moved to new places (`moves`)."""

    kind = fields.String(
        required=True,
        validate=validate.OneOf(KINDS, error=bilingual("申请类型无效", "invalid kind")),
        metadata=meta("申请类型", "Application", "radio"),
    )
    merchant_code = code_field("商户编号", "Merchant code", required=True)
    merchant = fields.Nested(
        NewMerchantFields,
        load_default=None,
        metadata=meta("新商户信息", "New merchant", "fieldset"),
    )
    terminals = _list(TerminalFields, "终端", "Terminals")
    moves = _list(MoveFields, "迁移终端", "Terminals to move")

    @validates_schema
    def _fields_of_kind(self, data, **_kwargs):
        kind = data.get("kind")
        if kind not in KINDS:
            return
        wanted = {
            "merchant": kind == NEW,
            "terminals": kind != MOVE_TERMINALS,
            "moves": kind == MOVE_TERMINALS,
        }
        errors = {}
        for name, needed in wanted.items():
            if needed and not data.get(name):
                errors[name] = [bilingual("此类申请须填写此项", "needed for this application")]
            elif not needed and data.get(name):
                errors[name] = [bilingual("此类申请不填写此项", "not for this application")]
        errors |= _repeated(data.get("terminals", []), "code", "terminals")
        errors |= _repeated(data.get("moves", []), "terminal_code", "moves")
        if errors:
            raise ValidationError(errors)


def _repeated(rows: list[dict], key: str, name: str) -> dict:
    codes = [row.get(key) for row in rows]
    twice = sorted({code for code in codes if codes.count(code) > 1})
    if not twice:
        return {}
    text = ", ".join(twice)
    return {name: [bilingual(f"终端编号重复：{text}", f"terminal codes repeated: {text}")]}


@register_form("settlement_account_confirmation")
class SettlementAccountConfirmationForm(DecisionFields):
    """The settlement centre confirms the account the merchant opened with the finance
    office (R23) before the merchant is admitted."""

    account_confirmed = fields.Boolean(
        load_default=False,
        metadata=meta("已核实结算账户", "Settlement account verified"),
    )

    @validates_schema
    def _confirmed(self, data, **_kwargs):
        required_when_approving(data, {"account_confirmed": ("结算账户", "the account")})


@register_form("access_agreement")
class AccessAgreementForm(DecisionFields):
    """A commercial merchant's signed access agreement: 0.5% of turnover as management fee
    (R11, R23). The rate is the ledger's; the agreement's number is kept with the request."""

    agreement_signed = fields.Boolean(
        load_default=False,
        metadata=meta("已签订接入协议（管理费 0.5%）", "Agreement signed (0.5%)"),
    )
    agreement_no = fields.String(
        load_default="",
        validate=validate.Length(max=40, error=bilingual("协议编号过长", "agreement no. too long")),
        metadata=meta("协议编号", "Agreement number"),
    )

    @validates_schema
    def _signed(self, data, **_kwargs):
        required_when_approving(data, {"agreement_signed": ("协议已签订", "the signed agreement")})
        if data.get("decision") == "approve" and not data.get("agreement_no", "").strip():
            message = bilingual("同意前须填写协议编号", "give the agreement number to approve")
            raise ValidationError(message, "agreement_no")


@register_form("merchant_revocation")
class MerchantRevocationForm(FormSchema):
    """校园卡商户撤销申请表 (R24), filed by the operating unit."""

    merchant_code = code_field("商户编号", "Merchant code", required=True)
    reason = fields.String(
        required=True,
        validate=validate.Length(min=1, max=500, error=bilingual("须为 1 至 500 字", "1-500")),
        metadata=meta("撤销原因", "Reason", "textarea"),
    )

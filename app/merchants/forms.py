"""The settlement centre's forms: an adjustment (调账) with its amount in yuan, exact to the fen."""

import re

from marshmallow import ValidationError, fields, validate

from forms.common import FormSchema, bilingual, meta

_YUAN = re.compile(r"^(\d{1,9})(?:\.(\d{1,2}))?$")


def fen_of_yuan(text: str) -> int:
    """'12.5' -> 1250: a positive amount in yuan with at most two decimals, as whole fen.
    ValueError (with a bilingual message) for anything else: no sign, no third decimal."""
    match = _YUAN.match(str(text).strip().replace(",", ""))
    if match is None:
        raise ValueError(
            bilingual(
                "金额须为元，最多两位小数（如 12.50）",
                "an amount in yuan with at most two decimals (e.g. 12.50)",
            )
        )
    whole, decimals = match.groups()
    fen = int(whole) * 100 + int((decimals or "0").ljust(2, "0"))
    if fen <= 0:
        raise ValueError(bilingual("金额须大于 0", "the amount must be above zero"))
    return fen


class Yuan(fields.Field):
    """An amount typed in yuan ("12.50"), loaded as integer fen (1250)."""

    def _deserialize(self, value, attr, data, **kwargs) -> int:
        try:
            return fen_of_yuan(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


class AdjustmentForm(FormSchema):
    """调账 (R11): give a cardholder back part or all of a purchase charged twice."""

    entry_id = fields.Integer(
        required=True,
        strict=False,
        validate=validate.Range(min=1, error=bilingual("流水号无效", "invalid entry number")),
        metadata=meta(
            "消费流水号",
            "Purchase entry no.",
            help_zh="商户页面“近期消费”中的流水号",
            help_en="the entry no. listed under the merchant's recent purchases",
        ),
    )
    amount = Yuan(required=True, metadata=meta("调账金额（元）", "Amount (yuan)"))
    reason = fields.String(
        required=True,
        validate=validate.Length(
            min=2, max=200, error=bilingual("须为 2 至 200 字", "2-200 characters")
        ),
        metadata=meta("调账原因", "Reason", widget="textarea"),
    )

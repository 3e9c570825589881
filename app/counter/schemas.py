"""The counter's forms: what the clerk fills in for each operation, as marshmallow schemas
that app.formfields renders. The reissue and cancellation forms of the e-service are reused
(without the card number, which the counter takes from the card chosen)."""

import re
from decimal import Decimal

from flask_babel import gettext as _
from marshmallow import ValidationError, fields, validates_schema

from forms.cards import CardCancellationForm, CardReissueForm
from forms.common import FormSchema, IdentitySchema, card_no_field, checkbox, meta

_YUAN = re.compile(r"^[0-9]+(\.[0-9]{1,2})?$")


class YuanAmount(fields.Field):
    """An amount typed in yuan ("12.5"), loaded as whole fen (1250): digits with at most two
    decimals, more than zero. The ledger's maximum is checked by the operation."""

    def _deserialize(self, value, attr, data, **kwargs) -> int:
        text = str(value).strip()
        if text.startswith("-"):
            raise ValidationError(_("金额须大于零"))
        if not _YUAN.match(text):
            raise ValidationError(_("请输入以元为单位的金额，最多两位小数，如 50 或 12.50"))
        fen = int(Decimal(text) * 100)
        if fen == 0:
            raise ValidationError(_("金额须大于零"))
        return fen


def _new_card_no():
    return card_no_field(
        "发放卡号（空白卡卡号，可空）", "Number of the card handed out (blank: assigned)",
        required=False, load_default=None, allow_none=True,
    )  # fmt: skip


class CheckedSchema(FormSchema):
    """The clerk confirms having seen the holder's valid ID."""

    identity_checked = checkbox("已当面核验持卡人有效证件", "The holder's valid ID checked")

    @validates_schema
    def _identity_checked(self, data, **_kwargs):
        if data.get("identity_checked") is not True:
            raise ValidationError(_("须当面核验有效证件后办理"), "identity_checked")


class TopUpSchema(FormSchema):
    """A cash top-up (R09)."""

    amount = YuanAmount(required=True, metadata=meta("充值金额（元）", "Amount (yuan)"))


class IssueSchema(CheckedSchema):
    """A new card for a person without one (R01-R04); a temporary card needs the end of the
    holder's working period."""

    new_card_no = _new_card_no()
    valid_until = fields.Date(
        load_default=None,
        allow_none=True,
        metadata=meta(
            "在校工作截止日期（仅临时卡）", "End of the working period (temporary cards)",
            help_zh="临时卡有效期至该日，最长一年", help_en="A temporary card is valid until "
            "then, at most a year",
        ),
    )  # fmt: skip


class ReissueSchema(CardReissueForm, CheckedSchema):
    """The e-service's reissue form (reason, who comes, delegate, fee from balance) with the
    card handed out and the ID check (R15, R16)."""

    new_card_no = _new_card_no()


class CancelSchema(CardCancellationForm):
    """The e-service's cancellation form: reason, ID checked, card handed in, delegate (R18)."""


class RefundSchema(CheckedSchema):
    """Paying out a refund; a lawful claimant's name and ID for a claimant refund (R19)."""

    claimant = fields.Nested(
        IdentitySchema,
        load_default=None,
        allow_none=True,
        metadata=meta("合法领取人（仅限代领）", "Lawful claimant (if not the holder)", "group"),
    )


TOP_UP = TopUpSchema()
ISSUE = IssueSchema()
REISSUE = ReissueSchema(exclude=("card_no",))
CANCEL = CancelSchema(exclude=("card_no",))
REFUND = RefundSchema()
CHECKED = CheckedSchema()

"""What the card office's forms share: bilingual labels and messages, identity documents,
card numbers, dates on the campus calendar, and the approver's decision.

Every message is "中文 / English", the form's user reads their half; labels are in each
field's metadata (`label_zh`, `label_en`, and optionally `help_zh`, `help_en`, `widget`).
"""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from zoneinfo import ZoneInfo

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ledger.models.people import IdType

CAMPUS = ZoneInfo("Asia/Shanghai")
ID_TYPES = tuple(t.value for t in IdType)
_RESIDENT_ID = re.compile(r"^\d{17}[\dX]$")
_PASSPORT = re.compile(r"^[A-Z0-9]{5,20}$")
_PHONE = re.compile(r"^\+?[\d-]{7,20}$")
_CARD_NO = re.compile(r"^\d{6,20}$")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def bilingual(zh: str, en: str) -> str:
    """A message in both languages, as every form error is."""
    return f"{zh} / {en}"


def meta(zh: str, en: str, widget: str | None = None, **extra) -> dict:
    """A field's metadata: its labels, and the widget the web renders it with."""
    return {"label_zh": zh, "label_en": en, **({"widget": widget} if widget else {}), **extra}


_TODAY: ContextVar[date | None] = ContextVar("forms_today", default=None)


@contextmanager
def validating_on(day: date) -> Iterator[None]:
    """Validate forms as on `day` (the operation's clock), not the wall clock's today."""
    token = _TODAY.set(day)
    try:
        yield
    finally:
        _TODAY.reset(token)


def campus_today() -> date:
    """The day forms are validated on: `validating_on`'s, else today on the campus calendar
    (Asia/Shanghai)."""
    return _TODAY.get() or datetime.now(CAMPUS).date()


def resident_id_valid(number: str) -> bool:
    """GB 11643: 17 digits and a check character (0-9 or X)."""
    if not _RESIDENT_ID.match(number):
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _WEIGHTS, strict=True))
    return "10X98765432"[total % 11] == number[17]


def id_number_problem(id_type: str, number: str) -> str | None:
    """Why `number` is no valid document number of `id_type`, or None."""
    if id_type == IdType.RESIDENT_ID and not resident_id_valid(number):
        return bilingual("身份证号码无效（18 位，末位校验码）", "invalid resident ID number")
    if id_type == IdType.PASSPORT and not _PASSPORT.match(number):
        return bilingual("护照号码应为 5 至 20 位字母或数字", "a passport has 5-20 letters/digits")
    if id_type == IdType.OTHER and not 4 <= len(number) <= 40:
        return bilingual("证件号码应为 4 至 40 个字符", "an ID number has 4-40 characters")
    return None


#: marshmallow's own messages, in both languages.
DEFAULT_MESSAGES = {
    "required": bilingual("必填", "required"),
    "null": bilingual("不能为空", "may not be empty"),
    "invalid": bilingual("格式不正确", "invalid value"),
    "type": bilingual("格式不正确", "invalid value"),
    "validator_failed": bilingual("取值无效", "invalid value"),
}


class FormSchema(Schema):
    """The base of every form: marshmallow's own messages (a required field, a wrong type,
    an unknown field) come in both languages like the forms' own."""

    error_messages = {  # noqa: RUF012  (marshmallow's class-level setting)
        "unknown": bilingual("未知字段", "unknown field"),
        "type": bilingual("表单数据格式不正确", "invalid form data"),
    }

    def on_bind_field(self, field_name, field_obj):
        """Give the field the bilingual default of each message it left to marshmallow."""
        for key, message in DEFAULT_MESSAGES.items():
            if " / " not in str(field_obj.error_messages.get(key, " / ")):
                field_obj.error_messages[key] = message


class UpperString(fields.String):
    """A string trimmed and upper-cased (ID numbers: a trailing x is an X)."""

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).strip().upper()


def name_field(zh: str = "姓名", en: str = "Name") -> fields.String:
    """A person's name, 1-50 characters."""
    error = bilingual("须为 1 至 50 字", "1-50 characters")
    return fields.String(
        required=True, validate=validate.Length(min=1, max=50, error=error), metadata=meta(zh, en)
    )


def card_no_field(zh: str = "卡号", en: str = "Card number", **kwargs) -> fields.String:
    """A campus card number: 6 to 20 digits."""
    error = bilingual("卡号应为 6 至 20 位数字", "6-20 digits")
    return fields.String(
        validate=validate.Regexp(_CARD_NO, error=error),
        metadata=meta(zh, en),
        **({"required": True} | kwargs),
    )


def phone_field(required: bool = True) -> fields.String:
    """A phone number."""
    presence = {"required": True} if required else {"load_default": None}
    return fields.String(
        validate=validate.Regexp(_PHONE, error=bilingual("电话号码格式不正确", "invalid phone")),
        metadata=meta("联系电话", "Phone"),
        **presence,
    )


class IdentitySchema(FormSchema):
    """Someone's name and identity document (R16, R21)."""

    name = name_field()
    id_type = fields.String(
        load_default=IdType.RESIDENT_ID.value,
        validate=validate.OneOf(ID_TYPES, error=bilingual("证件类型无效", "invalid ID type")),
        metadata=meta("证件类型", "ID type", "select"),
    )
    id_number = UpperString(required=True, metadata=meta("证件号码", "ID number"))

    @validates_schema
    def _document(self, data, **_kwargs):
        problem = id_number_problem(data.get("id_type", ""), data.get("id_number", ""))
        if problem and "id_number" in data:
            raise ValidationError(problem, "id_number")


class DecisionFields(FormSchema):
    """An approver's decision: approve or reject, a comment required to reject."""

    decision = fields.String(
        required=True,
        validate=validate.OneOf(
            ("approve", "reject"), error=bilingual("须为同意或驳回", "must be approve or reject")
        ),
        metadata=meta("审批意见", "Decision", "radio"),
    )
    comment = fields.String(
        load_default="",
        validate=validate.Length(max=1000, error=bilingual("意见过长", "comment too long")),
        metadata=meta("意见说明", "Comment", "textarea"),
    )

    @validates_schema
    def _reason_to_reject(self, data, **_kwargs):
        if data.get("decision") == "reject" and not data.get("comment", "").strip():
            message = bilingual("驳回须说明理由", "a rejection needs a reason")
            raise ValidationError(message, "comment")


def required_when_approving(data: dict, names_zh_en: dict[str, tuple[str, str]]) -> None:
    """ValidationError for each of `names` (field: (zh, en) of what it confirms) not true
    while the decision approves."""
    if data.get("decision") != "approve":
        return
    missing = {
        name: [bilingual(f"同意前须确认{zh}", f"confirm {en} before approving")]
        for name, (zh, en) in names_zh_en.items()
        if data.get(name) is not True
    }
    if missing:
        raise ValidationError(missing)


def checkbox(zh: str, en: str) -> fields.Boolean:
    """A box to tick, unticked unless sent."""
    return fields.Boolean(load_default=False, metadata=meta(zh, en, "checkbox"))


class CounterFields(DecisionFields):
    """At the counter: the ID checked in person and the fee collected (both needed to
    approve), and the number of the blank card handed out (else a new number is given)."""

    identity_checked = checkbox("已当面核验身份证件", "ID checked in person")
    fee_paid = checkbox("已收取工本费", "Fee paid")
    new_card_no = card_no_field(
        "发放卡号（空白卡卡号，可空）", "Card number given", required=False, load_default=None,
        allow_none=True,
    )  # fmt: skip

    @validates_schema
    def _checked(self, data, **_kwargs):
        required_when_approving(
            data,
            {
                "identity_checked": ("已核验身份证件", "the ID check"),
                "fee_paid": ("已收取工本费", "the fee"),
            },
        )

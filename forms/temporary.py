"""Temporary cards (R04, R20-R22): the department's application and extension, its approver's
certification, and the counter's record of each person who comes for a card."""

from datetime import date

from marshmallow import ValidationError, fields, validate, validates_schema

from forms import register_form
from forms.common import (
    CounterFields,
    DecisionFields,
    FormSchema,
    IdentitySchema,
    bilingual,
    campus_today,
    card_no_field,
    meta,
    phone_field,
    required_when_approving,
)
from ledger.ops.cards import one_year_after

MAX_PEOPLE = 50


def _reason_field() -> fields.String:
    error = bilingual("事由须为 2 至 500 字", "2-500 characters")
    return fields.String(
        required=True,
        validate=validate.Length(min=2, max=500, error=error),
        metadata=meta("申请事由", "Reason", "textarea"),
    )


class TemporaryPersonSchema(IdentitySchema):
    """One person a department applies for: who, how to reach them, their post and period."""

    phone = phone_field()
    post = fields.String(
        required=True,
        validate=validate.Length(min=1, max=50, error=bilingual("须为 1 至 50 字", "1-50 chars")),
        metadata=meta("岗位/身份", "Post"),
    )
    work_from = fields.Date(required=True, metadata=meta("工作起始日", "Working from", "date"))
    work_until = fields.Date(required=True, metadata=meta("工作截止日", "Working until", "date"))

    @validates_schema
    def _period(self, data, **_kwargs):
        start, end = data.get("work_from"), data.get("work_until")
        if start and end and end < start:
            message = bilingual("截止日不能早于起始日", "the period ends before it starts")
            raise ValidationError(message, "work_until")
        if end and end < campus_today():
            message = bilingual("工作期已结束", "the working period is over")
            raise ValidationError(message, "work_until")


@register_form("temporary_card_application")
class TemporaryCardApplication(FormSchema):
    """临时卡申请: the department lists one or more people (R21)."""

    people = fields.List(
        fields.Nested(TemporaryPersonSchema),
        required=True,
        validate=validate.Length(
            min=1, max=MAX_PEOPLE, error=bilingual("须列出 1 至 50 人", "list 1 to 50 people")
        ),
        metadata=meta("申请人员", "People", "table"),
    )
    reason = _reason_field()

    @validates_schema
    def _each_person_once(self, data, **_kwargs):
        seen: set = set()
        for person in data.get("people", []):
            key = (person.get("id_type"), person.get("id_number"))
            if key in seen:
                message = bilingual(f"{person.get('name')} 重复列出", "a person is listed twice")
                raise ValidationError(message, "people")
            seen.add(key)


@register_form("department_certification")
class DepartmentCertification(DecisionFields):
    """The department approver certifies that the people are the department's own (R20)."""

    certified = fields.Boolean(
        load_default=False,
        metadata=meta("所列人员均为本单位人员，信息属实", "They are our own people", "checkbox"),
    )

    @validates_schema
    def _certify(self, data, **_kwargs):
        required_when_approving(data, {"certified": ("所列人员均为本单位人员", "the people")})


@register_form("temporary_card_counter")
class TemporaryCardCounter(CounterFields):
    """At the counter: the person's ID checked against the application, the fee paid (R21);
    approving issues the card, rejecting records why none was issued."""


def _within_a_year(value: date) -> None:
    today = campus_today()
    if value <= today:
        raise ValidationError(bilingual("新有效期须晚于今天", "the new expiry must be after today"))
    if value > one_year_after(today):
        raise ValidationError(
            bilingual("新有效期不得超过一年（R04）", "at most one year ahead (R04)")
        )


@register_form("temporary_card_extension")
class TemporaryCardExtension(FormSchema):
    """临时卡延期: the department asks for a later expiry, never more than a year ahead (R22)."""

    card_no = card_no_field("临时卡卡号", "Temporary card number")
    new_expiry = fields.Date(
        required=True, validate=_within_a_year, metadata=meta("延期至", "Extend until", "date")
    )
    reason = _reason_field()

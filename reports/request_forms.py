"""The printed forms of requests (申请表), drawn from workflow instances: what every form
carries (the request's facts, the decisions taken on it, boxes to sign by hand) and the
generic form of a process that has no form of its own (its data under the form's labels).

`app/printouts` gathers a request's data from the engine as plain dicts and lists; the forms
of single processes are in `reports/request_cards.py` and `reports/request_merchants.py`.
The schemas mask ID numbers whoever prints: paper never carries a whole one."""

from marshmallow import Schema, fields

from forms.choices import choice_label
from ledger.models.people import mask_id_number
from reports.formats import CampusDateTime
from reports.pdf import Document


class MaskedIdNumber(fields.Field):
    """Dumps an ID number as paper shows it: 1101**********3015 ("" if none)."""

    def _serialize(self, value, attr, obj, **kwargs):
        return mask_id_number(str(value)) if value else ""


class ChoiceLabel(fields.Field):
    """Dumps a form's choice value by its Chinese label: resident_id -> 居民身份证."""

    def _serialize(self, value, attr, obj, **kwargs):
        return choice_label(value, "zh") if value else ""


def optional_string(**kwargs) -> fields.String:
    """A string that dumps as "" when the data lacks it (templates are strict)."""
    return fields.String(dump_default="", **kwargs)


def optional_nested(schema: type[Schema] | Schema, **kwargs) -> fields.Nested:
    """A nested part that dumps as None when the data lacks it (a step not reached yet)."""
    return fields.Nested(schema, dump_default=None, allow_none=True, **kwargs)


class FactsSchema(Schema):
    """What identifies a request: key, title, process, who filed it for which department,
    when, and where it stands."""

    business_key = fields.String()
    title = fields.String()
    process = fields.String()
    department = optional_string()
    applicant = fields.String()
    submitted_at = CampusDateTime()
    ended_at = CampusDateTime(dump_default=None)
    status = fields.String()


class DecisionSchema(Schema):
    """A decision on one of the request's steps: a row of the decisions table, and the box of
    a step on the forms that show it (who decided, standing in for whom, when, why)."""

    step = optional_string()
    decision = optional_string()
    actor = optional_string()
    on_behalf_of = optional_string()
    at = CampusDateTime(dump_default=None)
    comment = optional_string()


class RequestFormSchema(Schema):
    """What every printed request form carries; each form's schema adds its own parts."""

    facts = fields.Nested(FactsSchema)
    decisions = fields.List(fields.Nested(DecisionSchema))


class ShownSchema(Schema):
    """One field of a filed form under its label: a value, a group of fields, or a table."""

    label = fields.String()
    text = optional_string()
    children = fields.List(fields.Nested(lambda: ShownSchema()), dump_default=list)
    columns = fields.List(fields.String(), dump_default=list)
    rows = fields.List(fields.List(fields.String()), dump_default=list)


class GenericRequestSchema(RequestFormSchema):
    """A request of a process without a form of its own: its start form's fields (ID numbers
    masked by the gatherer, as the data is already text) and a box for each step that
    signs."""

    data = fields.List(fields.Nested(ShownSchema))
    signers = fields.List(fields.String())


def generic_form(process_name: str) -> Document:
    """The generic printed form of the process named `process_name` (临时卡延期申请表)."""
    return Document("request_generic.html", f"{process_name}申请表", GenericRequestSchema())

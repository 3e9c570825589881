"""The approver's decision, the form of every plain approval step."""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from forms import register_form

DECISIONS = ("approve", "reject")


@register_form("decision")
class DecisionForm(Schema):
    """Approve or reject, with a comment (required to reject, so the applicant learns why)."""

    decision = fields.String(
        required=True,
        validate=validate.OneOf(DECISIONS, error="须为同意或驳回 / must be approve or reject"),
        metadata={"label_zh": "审批意见", "label_en": "Decision", "widget": "radio"},
    )
    comment = fields.String(
        load_default="",
        validate=validate.Length(max=1000, error="意见过长 / comment too long"),
        metadata={"label_zh": "意见说明", "label_en": "Comment", "widget": "textarea"},
    )

    @validates_schema
    def _reason_to_reject(self, data, **_kwargs):
        if data.get("decision") == "reject" and not data.get("comment", "").strip():
            raise ValidationError("驳回须说明理由 / a rejection needs a reason", "comment")

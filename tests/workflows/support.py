"""What the engine tests register: a start form, and a service action on the ledger that a
test can make fail a given number of times."""

from marshmallow import Schema, fields, validate

from forms import register_form
from ledger.ops.cards import issue_card
from workflows.registry import action

#: How many more calls of `test.issue_card` fail before it works.
FAILURES = {"issue_card": 0}


@register_form("test_request")
class RequestForm(Schema):
    """A department asks for a card for one of its people."""

    person_id = fields.Integer(
        required=True, metadata={"label_zh": "人员编号", "label_en": "Person id"}
    )
    reason = fields.String(
        required=True,
        validate=validate.Length(min=2, max=200, error="事由须为 2 至 200 字 / 2-200 chars"),
        metadata={"label_zh": "事由", "label_en": "Reason"},
    )


@action("test.issue_card")
def issue_test_card(env, person_id: int) -> dict:
    """Issue the person's card; raises while FAILURES says so, after writing to the ledger
    (so a test sees that the failed attempt's writes are rolled back)."""
    result = issue_card(env.ledger_ctx(), person_id)
    if FAILURES["issue_card"] > 0:
        FAILURES["issue_card"] -= 1
        raise RuntimeError("card printer offline")
    return {"card_no": result["card_no"]}

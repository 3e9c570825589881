"""Form data in and out of the engine: validated by the form's marshmallow schema and kept
as JSON-able values (the schema's dump), so task data always serializes."""

from contextlib import nullcontext
from datetime import date

from marshmallow import ValidationError

from forms import get_form
from forms.common import validating_on
from workflows.errors import FormInvalid, InvalidInput


def validated(form: str | None, data: dict | None, today: date | None = None) -> dict:
    """`data` loaded and dumped by the schema named `form`, as on `today` (the operation's
    clock) where a field depends on the date; FormInvalid with per-field messages if it does
    not pass. Without a form, no data is accepted."""
    data = dict(data or {})
    if form is None:
        if data:
            raise InvalidInput(
                reason_zh="此步骤不需要填写表单", reason_en="this step takes no form"
            )
        return {}
    schema = get_form(form)
    try:
        with validating_on(today) if today else nullcontext():
            return schema.dump(schema.load(data))
    except ValidationError as exc:
        raise FormInvalid(form, exc.normalized_messages()) from None

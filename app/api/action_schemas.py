"""What the API's workflow actions take, as marshmallow schemas. The form data inside (a start
form's fields, a task's decision) is checked by the form's own schema in `forms/`, as on the
web; these schemas only shape the call."""

from marshmallow import Schema, fields, validate

from workflows.tasks import SUBMITTER

REASON_LENGTH = validate.Length(max=500)


class StartRequestArgs(Schema):
    process_id = fields.String(
        required=True, metadata={"description": "a process of GET /definitions"}
    )
    data = fields.Dict(
        keys=fields.String(),
        required=True,
        metadata={"description": "the fields of the process's start form (`start_form`)"},
    )
    department_id = fields.Integer(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "the department filed for, one of the caller's grants of a start "
            "role; may be left out when the caller has one"
        },
    )


class DecideTaskArgs(Schema):
    data = fields.Dict(
        keys=fields.String(),
        load_default=dict,
        metadata={
            "description": "the fields of the task's form (`form` in GET /tasks), e.g. "
            '{"decision": "approve", "comment": "..."}; for a returned request, the '
            "corrected start form"
        },
    )


class ReturnTaskArgs(Schema):
    reason = fields.String(
        required=True,
        validate=validate.Length(min=1, max=500),
        metadata={"description": "why the request goes back (退回)"},
    )
    to = fields.String(
        load_default=SUBMITTER,
        metadata={"description": "`submitter` (the applicant) or an earlier step's task name"},
    )


class WithdrawRequestArgs(Schema):
    reason = fields.String(load_default="", validate=REASON_LENGTH)


class RequestCommentArgs(Schema):
    text = fields.String(required=True, validate=validate.Length(min=1, max=2000))

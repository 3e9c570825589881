"""What the API's workflow endpoints answer, as marshmallow schemas (dumped to JSON and
described in the OpenAPI document). Moments are ISO 8601 in UTC."""

from marshmallow import Schema, fields, validate


class GrantSchema(Schema):
    role = fields.String(metadata={"description": "dept_approver, card_office ..."})
    department_id = fields.Integer(allow_none=True, metadata={"description": "null: all"})


class MeSchema(Schema):
    username = fields.String()
    display_name = fields.String()
    roles = fields.List(fields.Nested(GrantSchema))


class DefinitionSchema(Schema):
    process_id = fields.String()
    name = fields.String(metadata={"description": "in the caller's language"})
    version = fields.Integer()
    start_form = fields.String(allow_none=True)
    start_roles = fields.List(fields.String())


class TaskSchema(Schema):
    id = fields.Integer()
    instance_id = fields.Integer()
    process_id = fields.String()
    business_key = fields.String()
    task_name = fields.String()
    title = fields.String(metadata={"description": "the step, in the caller's language"})
    instance_title = fields.String()
    requester_name = fields.String()
    department_name = fields.String(allow_none=True)
    form = fields.String(allow_none=True)
    assignee_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    due_at = fields.DateTime(allow_none=True)


class TaskPageArgs(Schema):
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    after = fields.String(
        load_default=None,
        metadata={"description": "the `next` cursor of the previous page"},
    )


class TaskPageSchema(Schema):
    tasks = fields.List(fields.Nested(TaskSchema))
    next = fields.String(allow_none=True, metadata={"description": "cursor of the next page"})


class CurrentTaskSchema(Schema):
    id = fields.Integer()
    title = fields.String()
    holder = fields.String()
    since = fields.DateTime()
    due = fields.DateTime(allow_none=True)


class EventSchema(Schema):
    seq = fields.Integer()
    at = fields.DateTime()
    actor = fields.String()
    on_behalf_of = fields.String()
    action = fields.String()
    label = fields.String()
    step = fields.String()
    comment = fields.String()


class InstanceSchema(Schema):
    id = fields.Integer()
    process_id = fields.String()
    business_key = fields.String()
    title = fields.String()
    status = fields.String(metadata={"description": "running, completed, withdrawn ..."})
    department_id = fields.Integer(allow_none=True)
    started_at = fields.DateTime()
    ended_at = fields.DateTime(allow_none=True)
    data = fields.Dict(metadata={"description": "the start form's data"})
    tasks = fields.List(fields.Nested(CurrentTaskSchema))
    audit = fields.List(fields.Nested(EventSchema))

"""The API's workflow endpoints: who am I, the processes one may file, my open tasks (the
inbox) and a request with its current tasks and audit trail. Texts (process and step names)
are in the caller's language."""

from base64 import urlsafe_b64decode, urlsafe_b64encode
from datetime import datetime

from flask import abort
from flask.views import MethodView

from app.api.auth import api_env, api_user
from app.api.blueprints import api_blueprint
from app.api.schemas import (
    DefinitionSchema,
    InstanceSchema,
    MeSchema,
    TaskPageArgs,
    TaskPageSchema,
)
from app.display import department_names, process_name, start_data, step_title
from app.instances.page import current_tasks
from app.instances.timeline import timeline
from workflows import permissions
from workflows.context import Env
from workflows.deploy import latest_definitions
from workflows.inbox import inbox_page, scope_of
from workflows.models import ProcessInstance

blp = api_blueprint("workflows", "Workflows: definitions, my tasks, requests")


@blp.route("/me")
class Me(MethodView):
    @blp.response(200, MeSchema)
    def get(self):
        """The token's user and the roles they act with."""
        user = api_user()
        roles = [{"role": g.role.value, "department_id": g.department_id} for g in user.grants]
        return {"username": user.username, "display_name": user.display_name, "roles": roles}


@blp.route("/definitions")
class Definitions(MethodView):
    @blp.response(200, DefinitionSchema(many=True))
    def get(self):
        """The processes deployed now (each at its latest version)."""
        return [
            {
                "process_id": d.process_id,
                "name": process_name(d.process_id, d.name),
                "version": d.version,
                "start_form": d.start_form,
                "start_roles": sorted({d.start_role, *d.start_roles} - {None}),
            }  # fmt: skip
            for d in latest_definitions(api_env().session)
        ]


@blp.route("/tasks")
class Tasks(MethodView):
    @blp.arguments(TaskPageArgs, location="query")
    @blp.response(200, TaskPageSchema)
    def get(self, args):
        """My open tasks, newest first: mine, my groups' and those of whom I stand in for;
        `limit` a page, `after` the previous page's `next`."""
        env = api_env()
        scope = scope_of(env.session, env.user, env.today)
        rows = inbox_page(env.session, scope, args["limit"], _cursor(args["after"]))
        tasks = [_task(row) for row in rows]
        last = rows[-1] if len(rows) == args["limit"] else None
        cursor = _next_cursor(last) if last else None
        return {"tasks": tasks, "next": cursor}


@blp.route("/instances/<int:instance_id>")
class Instance(MethodView):
    @blp.response(200, InstanceSchema)
    def get(self, instance_id: int):
        """A request one may see, with its start data, current tasks and audit trail."""
        env = api_env()
        instance = env.session.get(ProcessInstance, instance_id)
        if instance is None or not permissions.can_view(env, instance):
            abort(404)
        return instance_body(env, instance)


def instance_body(env: Env, instance: ProcessInstance) -> dict:
    """A request as the API shows it (InstanceSchema): its start data, current tasks and
    audit trail. The caller checks first that the user may see it."""
    names = department_names(env.session)
    return {
        "id": instance.id, "process_id": instance.process_id,
        "business_key": instance.business_key, "title": instance.title,
        "status": instance.status.value, "department_id": instance.department_id,
        "started_at": instance.started_at, "ended_at": instance.ended_at,
        "data": start_data(env, instance),
        "tasks": [vars(t) for t in current_tasks(env, instance.id, names)],
        "audit": [vars(e) for e in timeline(env.session, instance.id)],
    }  # fmt: skip


#: The inbox row's columns a task carries as they are.
TASK_COLUMNS = (
    "id", "instance_id", "process_id", "business_key", "task_name", "instance_title",
    "requester_name", "department_name", "form", "assignee_id", "created_at", "due_at",
)  # fmt: skip


def _task(row) -> dict:
    shown = {name: getattr(row, name) for name in TASK_COLUMNS}
    return shown | {"title": step_title(row.title, row.kind)}


def _next_cursor(row) -> str:
    """An opaque, URL-safe cursor naming the row a page ended on."""
    return urlsafe_b64encode(f"{row.created_at.isoformat()}_{row.id}".encode()).decode()


def _cursor(text: str | None) -> tuple[datetime, int] | None:
    """The (created_at, id) a `next` cursor names; 422 if it names nothing."""
    if text is None:
        return None
    try:
        moment, _sep, number = urlsafe_b64decode(text.encode()).decode().rpartition("_")
        return datetime.fromisoformat(moment), int(number)
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        abort(422)

"""Workflow actions through the API: file (start) a request, claim, unclaim, decide and return
a task, withdraw a request and comment on it. People act with their own roles, and the
engine's checks decide, as on the web: what one may not see is not found (404), what one may
see but not do is forbidden (403), a task no longer open or a request changed meanwhile is a
conflict (409), and form data that its form refuses is 422 with the errors by field. Each
action answers with the request as it stands afterwards (as GET /instances/<id>)."""

from hashlib import sha256

from flask import abort, request
from flask.views import MethodView
from sqlalchemy import select

from app.api.action_schemas import (
    DecideTaskArgs,
    RequestCommentArgs,
    ReturnTaskArgs,
    StartRequestArgs,
    WithdrawRequestArgs,
)
from app.api.auth import api_env
from app.api.blueprints import api_blueprint
from app.api.idempotency import HEADER, PARAMETER, idempotency_key
from app.api.problems import api_language, problem
from app.api.schemas import InstanceSchema
from app.api.workflows_api import instance_body
from app.formfields import flat_errors
from app.portal.catalog import chosen_department, department_options, may_file
from app.portal.filing import Submission, file_request
from app.web import perform
from ledger.errors import IdempotencyConflict
from ledger.idempotency import request_digest
from workflows import instances, permissions, tasks
from workflows.context import Env
from workflows.deploy import latest_definition
from workflows.errors import FormInvalid, NotAllowed
from workflows.models import HumanTask, ProcessDefinition, ProcessInstance
from workflows.webstate import Filing

blp = api_blueprint("actions", "Workflow actions: start, claim, decide, withdraw, comment")

#: Filing a request takes an optional Idempotency-Key: a retry files nothing more.
START_KEY = PARAMETER | {
    "required": False,
    "description": "optional: a retry with the same key and body gets the request filed "
    "first (header Idempotent-Replayed: true); the same key with another body is refused (422)",
}
REPLAYED = "Idempotent-Replayed"


@blp.errorhandler(FormInvalid)
def form_invalid(error: FormInvalid):
    """422 with the form's errors in `errors`: {field path: message in the caller's
    language}, the paths as the web's inputs name them (`people.0.id_number`)."""
    lang = api_language()
    errors = flat_errors(error.errors)
    return problem(error.status, error.code, error.message(lang), lang, errors=errors)


@blp.route("/instances")
class Instances(MethodView):
    @blp.doc(parameters=[START_KEY])
    @blp.arguments(StartRequestArgs)
    @blp.response(201, InstanceSchema)
    def post(self, args):
        """File a request of `process_id` with its start form's `data` (a forced termination
        lists its cards in `data.entries`), for `department_id`; once per Idempotency-Key."""
        env = api_env()
        definition = _definition_to_file(env, args["process_id"])
        wanted = args["department_id"]  # None: the caller's only (or whole-campus) grant
        options = department_options(env.user, definition)
        department = chosen_department([o for o in options if wanted in (None, o.id)], "")
        submission = Submission(args["data"], department, [], token=_filing_token(env, args))
        filed = file_request(env, definition, submission)
        headers = {REPLAYED: "true"} if filed.again else {}
        return instance_body(env, filed.instance), 201, headers


@blp.route("/tasks/<int:task_id>/claim")
class Claim(MethodView):
    @blp.response(200, InstanceSchema)
    def post(self, task_id: int):
        """Take a group task as one's own (认领): nobody else can act on it then."""
        return _act_on_task(task_id, tasks.claim)


@blp.route("/tasks/<int:task_id>/unclaim")
class Unclaim(MethodView):
    @blp.response(200, InstanceSchema)
    def post(self, task_id: int):
        """Give a task one claimed back to the group."""
        return _act_on_task(task_id, tasks.unclaim)


@blp.route("/tasks/<int:task_id>/decide")
class Decide(MethodView):
    @blp.arguments(DecideTaskArgs)
    @blp.response(200, InstanceSchema)
    def post(self, args, task_id: int):
        """Complete the task with its form's `data`: approve or reject with a comment, or
        the applicant's corrected start form for a returned request."""
        return _act_on_task(task_id, tasks.complete, args["data"])


@blp.route("/tasks/<int:task_id>/return")
class Return(MethodView):
    @blp.arguments(ReturnTaskArgs)
    @blp.response(200, InstanceSchema)
    def post(self, args, task_id: int):
        """退回 the request with a `reason`: to the applicant to correct and resubmit, or
        `to` an earlier step, which goes to the person who decided it then."""
        return _act_on_task(task_id, tasks.return_task, args["reason"], args["to"])


@blp.route("/instances/<int:instance_id>/withdraw")
class Withdraw(MethodView):
    @blp.arguments(WithdrawRequestArgs)
    @blp.response(200, InstanceSchema)
    def post(self, args, instance_id: int):
        """The applicant takes back their request while nothing of it is carried out yet."""
        return _act_on_instance(instance_id, instances.withdraw, args["reason"].strip())


@blp.route("/instances/<int:instance_id>/comments")
class Comments(MethodView):
    @blp.arguments(RequestCommentArgs)
    @blp.response(201, InstanceSchema)
    def post(self, args, instance_id: int):
        """A comment on the request, for everyone who can see it (on its audit trail)."""
        return _act_on_instance(instance_id, instances.add_comment, args["text"])


def _definition_to_file(env: Env, process_id: str) -> ProcessDefinition:
    """The newest version of the process, as the portal's start page finds it: 404 if
    there is none (or it has no start form), 403 if the user holds none of its start roles."""
    definition = latest_definition(env.session, process_id)
    if definition is None or definition.start_form is None:
        abort(404)
    if not may_file(env.user, definition):
        abort(403)
    return definition


def _filing_token(env: Env, args: dict) -> str | None:
    """The portal's once-per-form-page token (`app.portal.filing.once_per_page`) for a call
    with an Idempotency-Key (None without one): its first half stands for the caller's key,
    its second for the body. The same key and body so file once; the same key with another
    body finds the key's half taken and is refused."""
    if request.headers.get(HEADER) is None:
        return None
    key_half = sha256(idempotency_key().encode()).hexdigest()[:16]
    token = key_half + request_digest("start_request", args)[:16]
    other = select(Filing.token).where(
        Filing.user_id == env.user.id, Filing.token.startswith(key_half), Filing.token != token
    )
    if env.session.scalar(other.limit(1)) is not None:
        raise IdempotencyConflict(key=request.headers[HEADER])
    return token


def _task_to_act_on(env: Env, task_id: int) -> HumanTask:
    """The task, decided as the inbox decides (`app.inbox.task_page.task_to_act_on`): 404
    if it is unknown or the user may not even see its request; if they may see it but not
    act on it, the engine's NotAllowed (403) says why."""
    row = env.session.get(HumanTask, task_id)
    if row is None:
        abort(404)
    try:
        permissions.acting_for(env, row)
    except NotAllowed:
        if not permissions.can_view(env, row.instance):
            abort(404)
        raise
    return row


def _act_on_task(task_id: int, operation, *args) -> dict:
    """Run the task `operation(env, task_id, *args)` in one unit of work; the request after."""
    env = api_env()
    row = _task_to_act_on(env, task_id)
    perform(operation, env, task_id, *args)
    return instance_body(env, row.instance)


def _act_on_instance(instance_id: int, operation, *args) -> dict:
    """Run `operation(env, instance_id, *args)` on a request the user may see (else 404) in
    one unit of work; the request after. The operation checks who may do it (403)."""
    env = api_env()
    instance = env.session.get(ProcessInstance, instance_id)
    if instance is None or not permissions.can_view(env, instance):
        abort(404)
    perform(operation, env, instance_id, *args)
    return instance_body(env, instance)

"""The problems in the OpenAPI document: every operation lists the errors it can answer, each an
`application/problem+json` body of the `Problem` schema (app/api/problems.py writes them).

They are added once for all operations by an apispec plugin, as each path is documented,
rather than route by route: 401 and 403 everywhere (every call authenticates, and a role or a
device's place may not allow it), 404 and 422 wherever the call names something or takes
input, 400 where a body or header can be malformed or missing, 409 on every call that changes
state. A route documents any other error status itself (`@blp.alt_response(429,
description=...)`); the plugin gives it the problem body too."""

from http import HTTPStatus

from apispec import BasePlugin
from marshmallow import INCLUDE, Schema, fields

from app.api.problems import PROBLEM_TYPE


class ProblemSchema(Schema):
    """An error of the API (RFC 9457)."""

    class Meta:
        unknown = INCLUDE  # RFC 9457 allows extension members

    type = fields.String(required=True, metadata={"description": "about:blank"})
    status = fields.Integer(required=True, metadata={"description": "the HTTP status"})
    code = fields.String(
        required=True,
        metadata={"description": "what went wrong, for machines: forbidden, not_found ..."},
    )
    title = fields.String(required=True)
    detail = fields.String(
        required=True, metadata={"description": "for people, in the caller's language"}
    )
    errors = fields.Dict(
        metadata={"description": "invalid input: messages by location (json, query) and field"}
    )


#: The response components of the problems, by status: their name and description.
RESPONSES = {
    400: ("BadRequest", "Malformed: the body is not JSON, or the Idempotency-Key is missing."),
    401: ("Unauthorized", "No valid API token or device key."),
    403: ("Forbidden", "The caller may not do this (their roles, or a device's place: R23)."),
    404: ("NotFound", "No such resource, or not one the caller may see."),
    409: ("Conflict", "The state does not allow it (a card's, a balance, a request's), or "
                      "the data changed meanwhile."),
    422: ("InvalidInput", "The input is invalid (`errors` says where), or an Idempotency-Key "
                          "is reused with another body."),
    429: ("TooManyRequests", "Too many requests; try again later."),
}  # fmt: skip


def problem_statuses(path: str, method: str, operation: dict) -> set[int]:
    """The error statuses every operation like this one can answer."""
    parameters = operation.get("parameters", [])
    body = "requestBody" in operation
    statuses = {401, 403}
    if "{" in path or parameters or body:
        statuses |= {404, 422}
    if body or any(p.get("in") == "header" for p in parameters if isinstance(p, dict)):
        statuses.add(400)
    if method != "get":
        statuses.add(409)
    return statuses


def problem_response(description: str) -> dict:
    """An OpenAPI response whose body is a Problem."""
    return {"description": description, "content": {PROBLEM_TYPE: {"schema": "Problem"}}}


class ProblemResponses(BasePlugin):
    """An apispec plugin that documents the problems of every operation as it is added."""

    def init_spec(self, spec) -> None:
        """Register the Problem schema and a response component per status."""
        spec.components.schema("Problem", schema=ProblemSchema)
        for name, description in RESPONSES.values():
            spec.components.response(name, problem_response(description), lazy=True)

    def operation_helper(self, path=None, operations=None, **kwargs) -> None:
        """Give each operation of `path` its problems, and a problem body to the errors that its
        route declared itself (flask-smorest's 422 for invalid arguments among them)."""
        for method, operation in (operations or {}).items():
            responses = operation.setdefault("responses", {})
            for key in [key for key in responses if _is_error(key)]:
                answer = responses.pop(key)
                responses[int(key)] = _own_problem(int(key), answer)
            for status in problem_statuses(path, method, operation):
                responses.setdefault(status, RESPONSES[status][0])
            operation["responses"] = dict(sorted(responses.items(), key=lambda item: str(item[0])))


def _is_error(status) -> bool:
    return str(status).isdigit() and 400 <= int(status) < 500


def _own_problem(status: int, answer) -> dict | str:
    """A route's own error response with a problem body: its description kept if it gave one."""
    if isinstance(answer, dict) and answer.get("description"):
        return problem_response(answer["description"])
    if status in RESPONSES:
        return RESPONSES[status][0]
    return problem_response(HTTPStatus(status).phrase)

"""The API's browsable docs and the problems of its OpenAPI document (issue 7).

/api/v1/docs is Swagger UI from the app's own vendored copy (no CDN), open without a token,
and its "Authorize" takes a bearer token for trying calls. Every operation of the document
lists its error responses as application/problem+json of the Problem schema, and the
problems the app really answers (flask-smorest's 422 among them) have that shape."""

import json
import re
from pathlib import Path

import pytest
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from app.api.openapi import ProblemResponses
from tests.web.api_support import token_of

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "app/static/vendor/swagger-ui"
PROBLEM = "application/problem+json"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
METHODS = {"get", "put", "post", "delete", "patch"}


def document_of(web) -> dict:
    return web.test_client().get("/api/v1/openapi.json").json


def operations(document: dict):
    """(path, method, operation) of every operation in `document`."""
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def resolved(document: dict, response: dict) -> dict:
    """A response object, its $ref to a component followed."""
    ref = response.get("$ref")
    return document["components"]["responses"][ref.rsplit("/", 1)[1]] if ref else response


# --- the docs page -----------------------------------------------------------------------


def test_the_docs_page_needs_no_token_and_loads_only_the_apps_own_files(web):
    client = web.test_client()
    reply = client.get("/api/v1/docs")
    assert reply.status_code == 200 and reply.mimetype == "text/html"
    page = reply.get_data(as_text=True)
    assert "http://" not in page and "https://" not in page, "nothing from a CDN"
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert {Path(a).name for a in assets} >= {"swagger-ui-bundle.js", "swagger-ui.css"}
    for asset in assets:
        assert asset.startswith("/static/vendor/swagger-ui/"), asset
        served = client.get(asset)
        assert served.status_code == 200, asset
        served.close()
    assert '"/api/v1/openapi.json"' in page


def test_the_vendored_swagger_ui_is_the_version_package_json_pins():
    pinned = json.loads((ROOT / "package.json").read_text())["dependencies"]["swagger-ui-dist"]
    assert pinned.startswith("5.")
    assert (VENDOR / "VERSION").read_text().strip() == pinned
    assert "Apache License" in (VENDOR / "LICENSE").read_text()


# --- the problems in the document --------------------------------------------------------


def test_the_problem_schema_has_the_members_of_every_problem(web):
    problem = document_of(web)["components"]["schemas"]["Problem"]
    members = {"type", "status", "code", "title", "detail", "errors"}
    assert members <= set(problem["properties"])
    assert set(problem["required"]) == members - {"errors"}


def test_every_operation_documents_its_problems_as_problem_json(web):
    document = document_of(web)
    for path, method, operation in operations(document):
        where = f"{method.upper()} {path}"
        statuses = {int(s) for s in operation["responses"] if s.isdigit()}
        assert "default" not in operation["responses"], where
        assert {401, 403} <= statuses, where
        takes_input = "{" in path or operation.get("parameters") or "requestBody" in operation
        if takes_input:
            assert {404, 422} <= statuses, where
        if "requestBody" in operation:
            assert 400 in statuses, where
        if method != "get":
            assert 409 in statuses, where
        for status in (s for s in statuses if s >= 400):
            content = resolved(document, operation["responses"][str(status)])["content"]
            assert content == {PROBLEM: {"schema": PROBLEM_REF}}, f"{where} {status}"


def test_an_error_a_route_declares_itself_gets_a_problem_body_too():
    spec = APISpec("t", "1", "3.0.3", plugins=[MarshmallowPlugin(), ProblemResponses()])
    urge = {"responses": {200: {"description": "OK"}, 429: {"description": "urged twice"}}}
    spec.path("/api/v1/instances/{instance_id}/urge", operations={"post": urge})
    answers = spec.to_dict()["paths"]["/api/v1/instances/{instance_id}/urge"]["post"]
    assert list(answers["responses"]) == ["200", "401", "403", "404", "409", "422", "429"]
    assert answers["responses"]["429"]["description"] == "urged twice"
    assert answers["responses"]["429"]["content"] == {PROBLEM: {"schema": PROBLEM_REF}}


def test_a_call_that_requires_an_idempotency_key_documents_its_400(web):
    document = document_of(web)
    keyed = [
        (f"{method.upper()} {path}", operation)
        for path, method, operation in operations(document)
        for parameter in operation.get("parameters", [])
        if parameter.get("name") == "Idempotency-Key" and parameter.get("required")
    ]
    assert keyed, "the money-moving calls require an Idempotency-Key"
    for where, operation in keyed:
        assert "400" in operation["responses"], where  # the key is missing


def test_flask_smoreests_invalid_arguments_answer_a_documented_problem(web):
    document = document_of(web)
    required = document["components"]["schemas"]["Problem"]["required"]
    caller = {"Authorization": f"Bearer {token_of(web, 'approver')}"}
    reply = web.test_client().get("/api/v1/tasks?limit=0", headers=caller)
    assert reply.status_code == 422 and reply.mimetype == PROBLEM
    assert set(required) <= set(reply.json) and reply.json["status"] == 422
    assert "limit" in reply.json["errors"]["query"]


# --- the page in a browser ---------------------------------------------------------------


@pytest.mark.browser
def test_the_docs_list_the_operations_and_try_one_with_a_bearer_token(live_server, page):
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{live_server.url}/api/v1/docs")
    page.wait_for_selector(".opblock-summary")
    assert page.locator(".opblock").count() >= 5
    assert page.locator('.opblock-summary-path[data-path="/api/v1/me"]').count() == 1

    page.click(".auth-wrapper button.authorize")
    page.fill(".auth-container input[type=text]", token_of(live_server.app, "approver"))
    page.click(".auth-btn-wrapper button.authorize")
    page.click(".auth-btn-wrapper button.btn-done")
    me = page.locator(".opblock-get", has=page.locator('[data-path="/api/v1/me"]'))
    me.locator(".opblock-summary").click()
    me.locator("button.try-out__btn").click()
    me.locator("button.execute").click()
    answer = me.locator(".live-responses-table tbody .response-col_status").first
    assert answer.inner_text().strip().startswith("200")
    assert '"username": "approver"' in me.locator(".live-responses-table").inner_text()
    assert page.errors == []
    assert all(url.startswith(live_server.url) for url in requested), "nothing from a CDN"

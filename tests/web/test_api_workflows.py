"""The API's workflow endpoints with personal API tokens: who may call (401 without a live
token, whatever the browser's session), what each answers (my tasks, a request one may see,
404 otherwise), problem+json errors in the caller's language, and the OpenAPI document."""

from datetime import UTC, datetime

import pytest

from app.auth.accounts import find_user
from app.extensions import db
from app.uow import unit_of_work
from tests.web.access_support import instance_id
from tests.web.api_support import ApiClient, token_of
from workflows.apitokens import revoke_token, tokens_of

PROBLEM = "application/problem+json"
#: Every GET endpoint of this part of the API (with the demo request in it).
ENDPOINTS = ["/api/v1/me", "/api/v1/definitions", "/api/v1/tasks", "/api/v1/instances/{lsk}"]


def lsk(web) -> int:
    with web.app_context():
        return instance_id("DEMO-LSK-1")


@pytest.mark.parametrize("path", ENDPOINTS)
def test_without_a_token_every_endpoint_answers_401_as_a_problem(web, api_as, path):
    reply = api_as(None).get(path.format(lsk=lsk(web)))
    assert reply.status_code == 401 and reply.mimetype == PROBLEM
    assert reply.json["code"] == "unauthorized" and "令牌" in reply.json["detail"]
    assert reply.headers["Content-Language"] == "zh"


def test_problems_speak_the_callers_language(api_as):
    reply = api_as(None, language="en-US,en;q=0.9").get("/api/v1/tasks")
    assert reply.json["detail"].startswith("A valid API token") and reply.json["status"] == 401


@pytest.mark.parametrize("token", ["", "cco_not-a-token", "Basic abc"])
def test_a_wrong_token_is_refused(web, token):
    client = web.test_client()
    reply = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 401 and reply.mimetype == PROBLEM


def test_a_browser_session_does_not_authorise_the_api(web, as_user):
    assert as_user("approver").get("/api/v1/tasks").status_code == 401


def test_a_revoked_token_stops_working(web, api_as):
    caller = api_as("approver")
    assert caller.get("/api/v1/me").status_code == 200
    with web.app_context(), unit_of_work():
        user = find_user(db.session, "approver")
        (token,) = tokens_of(db.session, user)
        revoke_token(db.session, user, token.id, datetime.now(UTC))
    reply = caller.get("/api/v1/me")
    assert reply.status_code == 401 and reply.mimetype == PROBLEM


def test_me_names_the_tokens_user_and_roles(api_as):
    reply = api_as("cardoffice").get("/api/v1/me")
    assert reply.json["username"] == "cardoffice"
    assert reply.json["roles"] == [{"role": "card_office", "department_id": None}]


def test_definitions_list_each_process_once_in_the_callers_language(api_as):
    chinese = {d["process_id"]: d for d in api_as("applicant").get("/api/v1/definitions").json}
    assert chinese["temporary_card"]["name"] == "临时卡申请" and len(chinese) == 7
    assert "applicant" in chinese["temporary_card"]["start_roles"]
    english = api_as("applicant", "en").get("/api/v1/definitions").json
    assert {d["process_id"]: d["name"] for d in english}["temporary_card"] != "临时卡申请"


def test_my_tasks_are_the_inbox(api_as):
    tasks = api_as("approver").get("/api/v1/tasks").json["tasks"]
    assert sorted(t["business_key"] for t in tasks) == ["DEMO-LSK-1", "DEMO-YQ-1"]
    assert all(t["form"] and t["title"] for t in tasks)
    assert api_as("hr").get("/api/v1/tasks").json == {"tasks": [], "next": None}


def test_tasks_page_by_cursor(api_as):
    caller = api_as("approver")
    everything = [t["id"] for t in caller.get("/api/v1/tasks?limit=100").json["tasks"]]
    first = caller.get("/api/v1/tasks?limit=1").json
    second = caller.get(f"/api/v1/tasks?limit=1&after={first['next']}").json
    assert len(everything) == 2 and first["next"] and second["next"]
    assert [t["id"] for t in first["tasks"] + second["tasks"]] == everything


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=101", "limit=x", "after=nonsense", "after=bm9uc2Vuc2U="]
)
def test_bad_paging_is_a_422_problem(api_as, query):
    reply = api_as("approver").get(f"/api/v1/tasks?{query}")
    assert reply.status_code == 422 and reply.mimetype == PROBLEM
    assert reply.json["code"] == "invalid_input"


def test_a_request_shows_its_data_tasks_and_audit_to_who_may_see_it(web, api_as):
    reply = api_as("approver").get(f"/api/v1/instances/{lsk(web)}")
    found = reply.json
    assert found["business_key"] == "DEMO-LSK-1" and found["status"] == "running"
    assert [p["name"] for p in found["data"]["people"]] == ["马文博", "林雪"]
    assert len(found["tasks"]) == 1 and found["audit"][0]["action"] == "start"


@pytest.mark.parametrize("login", ["itcenter", "logistics", "hr"])
def test_a_request_one_may_not_see_is_a_404_problem(web, api_as, login):
    reply = api_as(login).get(f"/api/v1/instances/{lsk(web)}")
    assert reply.status_code == 404 and reply.mimetype == PROBLEM
    assert api_as(login).get("/api/v1/instances/999999").status_code == 404


def test_the_openapi_document_describes_every_endpoint(web):
    document = web.test_client().get("/api/v1/openapi.json").json
    assert document["openapi"].startswith("3.")
    assert document["components"]["securitySchemes"]["token"]["scheme"] == "bearer"
    described = set(document["paths"])
    assert {p.replace("{lsk}", "{instance_id}") for p in ENDPOINTS} <= described
    routed = {r.rule.replace("<int:", "{").replace("<", "{").replace(">", "}")
              for r in web.url_map.iter_rules()
              if r.rule.startswith("/api/v1/") and not r.endpoint.startswith("api-docs.")}
    assert routed == described


def test_web_pages_keep_their_error_pages(as_user):
    reply = as_user("applicant").get("/no-such-page")
    assert reply.status_code == 404 and reply.mimetype == "text/html"


def test_api_client_sends_the_token(web):
    caller = ApiClient(web.test_client(), token_of(web, "approver"))
    assert caller.get("/api/v1/me").json["username"] == "approver"


@pytest.mark.parametrize("path", ["/api/v1/instances/{id}", "/api/v1/settlements/{id}"])
def test_an_id_past_the_largest_row_is_a_404_problem(api_as, path):
    reply = api_as("admin").get(path.format(id=2**31))
    assert reply.status_code == 404 and reply.mimetype == PROBLEM
    assert reply.json["code"] == "not_found" and reply.json["detail"] == "资源不存在。"


def test_a_web_page_of_an_id_past_the_largest_row_is_a_404_page(as_user):
    reply = as_user("admin").get(f"/instances/{10**30}")
    assert reply.status_code == 404 and reply.mimetype == "text/html"

"""The API's workflow actions with personal API tokens: a temporary card request (R21) filed,
claimed, certified (R20) and reviewed through the API with every step on its audit trail;
return, resubmission, withdrawal and comments; filing once per Idempotency-Key; who gets
401, 403 or 404 on each action; 409 and 422 as problem+json in the caller's language."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from forms.common import campus_today
from ledger.models.cards import Card
from ledger.models.people import Person
from tests.web.access_support import instance_id
from tests.web.test_inbox import CARD, add_user, department_id, open_task
from tests.web.test_portal import resident_id
from workflows import tasks
from workflows.errors import StaleInstance
from workflows.identity import Role
from workflows.models import ProcessInstance

PROBLEM = "application/problem+json"
CERTIFY = {"decision": "approve", "certified": True, "comment": "均为本院聘用人员"}


def person(name: str, body: str) -> dict:
    """A person to apply a temporary card for, working from today for 90 days."""
    today = campus_today()
    return {
        "name": name, "id_type": "resident_id", "id_number": resident_id(body),
        "phone": "13900001111", "post": "访问学者", "work_from": today.isoformat(),
        "work_until": (today + timedelta(days=90)).isoformat(),
    }  # fmt: skip


def card_request(*people: dict, reason: str = "科研项目临时聘用") -> dict:
    """The body that files a temporary card request for `people` (赵一鸣 if none)."""
    listed = list(people) or [person("赵一鸣", "11010519491231002")]
    return {"process_id": "temporary_card", "data": {"people": listed, "reason": reason}}


def requests_filed(in_db) -> int:
    return in_db(lambda: db.session.scalar(select(func.count()).select_from(ProcessInstance)))


def actions(body: dict) -> list[tuple[str, str]]:
    """(action, actor) of the request's audit trail, in order."""
    return [(event["action"], event["actor"]) for event in body["audit"]]


def task_of(caller, instance: int) -> dict:
    """The caller's task of the request, as GET /tasks lists it."""
    (found,) = [
        t for t in caller.get("/api/v1/tasks").json["tasks"] if t["instance_id"] == instance
    ]
    return found


# --- the round trip --------------------------------------------------------------------------


def test_r21_a_temporary_card_request_goes_through_the_api_step_by_step(api_as):
    """R21, R20: the department files, its approver claims and certifies, the card office
    finds the review in its tasks and approves; each step is on the audit trail."""
    filed = api_as("applicant").post("/api/v1/instances", json=card_request())
    assert filed.status_code == 201 and filed.json["status"] == "running"
    assert filed.json["business_key"].startswith("LSK-") and filed.json["title"].endswith("赵一鸣")
    assert [t["title"] for t in filed.json["tasks"]] == ["单位负责人审核并确认为本单位人员"]
    request = filed.json["id"]

    approver = api_as("approver")
    certify = task_of(approver, request)
    claimed = approver.post(f"/api/v1/tasks/{certify['id']}/claim")
    assert (
        claimed.status_code == 200
        and claimed.json["tasks"][0]["holder"] == "部门负责人（信息学院）"
    )
    assert task_of(approver, request)["assignee_id"] is not None
    certified = approver.post(f"/api/v1/tasks/{certify['id']}/decide", json={"data": CERTIFY})
    assert certified.status_code == 200
    assert [t["title"] for t in certified.json["tasks"]] == ["卡务中心审核"]

    office = api_as("cardoffice")
    review = task_of(office, request)
    assert review["form"] == "decision" and review["business_key"] == filed.json["business_key"]
    decided = office.post(
        f"/api/v1/tasks/{review['id']}/decide", json={"data": {"decision": "approve"}}
    )
    assert decided.status_code == 200
    assert [t["title"] for t in decided.json["tasks"]] == ["核验证件并收取工本费"]
    steps = [step for step in actions(decided.json) if step[0] in ("start", "claim", "approve")]
    assert steps == [
        ("start", "部门秘书（信息学院）"), ("claim", "部门负责人（信息学院）"),
        ("approve", "部门负责人（信息学院）"), ("approve", "卡务中心柜员"),
    ]  # fmt: skip
    assert api_as("applicant").get(f"/api/v1/instances/{request}").json == decided.json


def test_an_unclaimed_task_goes_back_to_the_group(api_as, in_db):
    approver, task = api_as("approver"), open_task(in_db, CARD)
    approver.post(f"/api/v1/tasks/{task}/claim")
    reply = approver.post(f"/api/v1/tasks/{task}/unclaim")
    assert reply.status_code == 200 and reply.json["tasks"][0]["holder"] != "部门负责人（信息学院）"
    assert [a for a, _who in actions(reply.json)][-2:] == ["claim", "unclaim"]
    assert task_of(approver, reply.json["id"])["assignee_id"] is None


def test_a_task_claimed_already_cannot_be_claimed_again(api_as, in_db):
    approver, task = api_as("approver", "en"), open_task(in_db, CARD)
    approver.post(f"/api/v1/tasks/{task}/claim")
    again = approver.post(f"/api/v1/tasks/{task}/claim")
    assert again.status_code == 403 and again.json["detail"].endswith("the task is already claimed")


def test_a_task_decided_already_is_a_conflict(api_as, in_db):
    approver, task = api_as("approver"), open_task(in_db, CARD)
    assert approver.post(f"/api/v1/tasks/{task}/decide", json={"data": CERTIFY}).status_code == 200
    again = approver.post(f"/api/v1/tasks/{task}/decide", json={"data": CERTIFY})
    assert again.status_code == 409 and again.mimetype == PROBLEM
    assert again.json["code"] == "task_not_ready" and "已完成" in again.json["detail"]


def test_a_request_changed_meanwhile_is_a_conflict(api_as, in_db, monkeypatch):
    """A lost race on the instance's version (StaleInstance) answers 409, never a 500."""

    def lost_race(env, task_id, data):
        raise StaleInstance(business_key=CARD)

    monkeypatch.setattr(tasks, "complete", lost_race)
    reply = api_as("approver", "en").post(
        f"/api/v1/tasks/{open_task(in_db, CARD)}/decide", json={"data": CERTIFY}
    )
    assert reply.status_code == 409 and reply.json["code"] == "stale_instance"
    assert reply.json["detail"].startswith(f"Request {CARD} was changed by someone else")


# --- return, resubmission, withdrawal, comments ---------------------------------------------


def test_a_returned_request_is_corrected_and_resubmitted_by_its_applicant(api_as, in_db):
    task = open_task(in_db, CARD)
    returned = api_as("approver").post(
        f"/api/v1/tasks/{task}/return", json={"reason": "缺聘用合同"}
    )
    assert returned.status_code == 200 and returned.json["status"] == "returned"
    assert returned.json["audit"][-1]["comment"] == "缺聘用合同"
    applicant = api_as("applicant")
    resubmit = task_of(applicant, returned.json["id"])
    corrected = {k: returned.json["data"][k] for k in ("people", "reason")} | {"reason": "已补合同"}
    reply = applicant.post(f"/api/v1/tasks/{resubmit['id']}/decide", json={"data": corrected})
    assert reply.status_code == 200 and reply.json["status"] == "running"
    assert reply.json["data"]["reason"] == "已补合同" and actions(reply.json)[-1][0] == "resubmit"


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "reason"), ({"reason": ""}, "reason"), ({"reason": "x", "to": 5}, "to")],
)
def test_a_return_needs_a_reason(api_as, in_db, body, field):
    reply = api_as("approver").post(f"/api/v1/tasks/{open_task(in_db, CARD)}/return", json=body)
    assert reply.status_code == 422 and reply.mimetype == PROBLEM
    assert field in reply.json["errors"]["json"]


def test_the_applicant_withdraws_a_request_once(api_as, web):
    with web.app_context():
        request = instance_id(CARD)
    applicant = api_as("applicant")
    reply = applicant.post(f"/api/v1/instances/{request}/withdraw", json={"reason": " 人员变动 "})
    assert reply.status_code == 200 and reply.json["status"] == "withdrawn"
    assert reply.json["tasks"] == [] and reply.json["audit"][-1]["comment"] == "人员变动"
    again = applicant.post(f"/api/v1/instances/{request}/withdraw", json={})
    assert again.status_code == 409 and again.json["code"] == "wrong_instance_state"


def test_a_comment_is_added_to_the_audit_trail(api_as, web):
    with web.app_context():
        request = instance_id(CARD)
    reply = api_as("approver").post(
        f"/api/v1/instances/{request}/comments", json={"text": "请补材料"}
    )
    assert reply.status_code == 201
    assert actions(reply.json)[-1] == ("comment", "部门负责人（信息学院）")
    assert reply.json["audit"][-1]["comment"] == "请补材料"


@pytest.mark.parametrize("body", [{}, {"text": ""}, {"text": "长" * 2001}])
def test_a_comment_needs_its_text(api_as, web, body):
    with web.app_context():
        request = instance_id(CARD)
    reply = api_as("applicant").post(f"/api/v1/instances/{request}/comments", json=body)
    assert reply.status_code == 422 and "text" in reply.json["errors"]["json"]


# --- filing: errors, other processes, once per key -------------------------------------------


def test_form_errors_come_by_field_in_the_callers_language(api_as, in_db):
    wrong = person("赵一鸣", "11010519491231002") | {"id_number": "110105194912310021"}
    body = card_request(wrong, reason="x")
    chinese = api_as("applicant").post("/api/v1/instances", json=body)
    assert chinese.status_code == 422 and chinese.json["code"] == "form_invalid"
    assert chinese.json["errors"] == {
        "people.0.id_number": "身份证号码无效（18 位，末位校验码）",
        "reason": "事由须为 2 至 500 字",
    }
    english = api_as("applicant", "en").post("/api/v1/instances", json=body)
    assert english.json["errors"]["reason"] == "2-500 characters"
    assert english.json["detail"].startswith("The form 'temporary_card_application' has errors")
    assert requests_filed(in_db) == 5  # the demo requests only


def test_a_decision_is_checked_by_the_tasks_form(api_as, in_db):
    """R20: certifying needs the box ticked; a rejection needs a reason."""
    approver, task = api_as("approver", "en"), open_task(in_db, CARD)
    unticked = approver.post(f"/api/v1/tasks/{task}/decide", json={"data": {"decision": "approve"}})
    assert unticked.status_code == 422
    assert unticked.json["errors"] == {"certified": "confirm the people before approving"}
    bare = approver.post(f"/api/v1/tasks/{task}/decide", json={"data": {"decision": "reject"}})
    assert bare.json["errors"] == {"comment": "a rejection needs a reason"}
    assert open_task(in_db, CARD) == task  # still open


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"process_id": "no_such_process", "data": {}}, 404, "not_found"),
        ({"process_id": "temporary_card"}, 422, "invalid_input"),
        ({"process_id": "temporary_card", "data": []}, 422, "invalid_input"),
        (card_request() | {"department_id": 999}, 422, "invalid_input"),
    ],
)
def test_filing_refuses_what_cannot_be_filed(api_as, in_db, body, status, code):
    reply = api_as("applicant").post("/api/v1/instances", json=body)
    assert (reply.status_code, reply.json["code"]) == (status, code)
    assert requests_filed(in_db) == 5


def test_r19_a_forced_termination_lists_its_cards_as_json_rows(api_as, in_db):
    """R19: the roster the web takes as a file is the start form's `entries` here."""
    card_no = in_db(
        lambda: db.session.scalar(select(Card.card_no).join(Person).where(Person.name == "吴俊杰"))
    )
    entry = {"card_no": card_no, "name": "吴俊杰", "reason": "graduated"}
    body = {"process_id": "forced_termination", "data": {"entries": [entry], "note": "2026 届"}}
    reply = api_as("registrar").post("/api/v1/instances", json=body)
    assert reply.status_code == 201 and reply.json["business_key"].startswith("QZZZ-")
    assert reply.json["data"]["entries"][0]["card_no"] == card_no
    assert [t["title"] for t in reply.json["tasks"]] == ["信息技术中心审核"]


def test_the_same_key_and_body_file_once(api_as, in_db):
    applicant = api_as("applicant")
    first = applicant.post("/api/v1/instances", json=card_request(), key="file-lsk-0001")
    again = applicant.post("/api/v1/instances", json=card_request(), key="file-lsk-0001")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json["id"] == first.json["id"] and again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert requests_filed(in_db) == 6


def test_the_same_key_with_another_body_is_refused(api_as, in_db):
    applicant = api_as("applicant", "en")
    applicant.post("/api/v1/instances", json=card_request(), key="file-lsk-0001")
    other = card_request(person("钱二宝", "11010519491231003"))
    reply = applicant.post("/api/v1/instances", json=other, key="file-lsk-0001")
    assert reply.status_code == 422 and reply.json["code"] == "idempotency_conflict"
    assert "file-lsk-0001" in reply.json["detail"] and requests_filed(in_db) == 6


def test_keys_are_each_callers_own_and_without_one_every_call_files(api_as, in_db):
    body = card_request()
    api_as("applicant").post("/api/v1/instances", json=body, key="file-lsk-0001")
    logistics = api_as("logistics").post("/api/v1/instances", json=body, key="file-lsk-0001")
    assert logistics.status_code == 201 and "Idempotent-Replayed" not in logistics.headers
    unkeyed = [api_as("applicant").post("/api/v1/instances", json=body) for _ in range(2)]
    assert unkeyed[0].json["id"] != unkeyed[1].json["id"]
    assert requests_filed(in_db) == 9


def test_a_malformed_key_is_refused(api_as, in_db):
    reply = api_as("applicant").post("/api/v1/instances", json=card_request(), key="short")
    assert reply.status_code == 422 and reply.json["code"] == "idempotency_key_invalid"
    assert requests_filed(in_db) == 5


# --- who may call ----------------------------------------------------------------------------

#: (method path, body, caller, status) on the demo request DEMO-LSK-1, filed by `applicant`
#: and waiting for its department's approver (`approver`); `hr` has nothing to do with it,
#: `cardoffice` files nothing and has no task of it yet.
MATRIX = [
    ("/instances", card_request(), None, 401),
    ("/instances", card_request(), "hr", 403),
    ("/instances", card_request(), "applicant", 201),
    ("/tasks/{task}/claim", {}, None, 401),
    ("/tasks/{task}/claim", {}, "hr", 404),
    ("/tasks/{task}/claim", {}, "applicant", 403),  # sees it, is not its approver
    ("/tasks/{task}/claim", {}, "approver", 200),
    ("/tasks/999999/claim", {}, "approver", 404),
    ("/tasks/{task}/unclaim", {}, None, 401),
    ("/tasks/{task}/unclaim", {}, "cardoffice", 404),
    ("/tasks/{task}/unclaim", {}, "approver", 403),  # not claimed
    ("/tasks/{task}/decide", {"data": CERTIFY}, None, 401),
    ("/tasks/{task}/decide", {"data": CERTIFY}, "cardoffice", 404),
    ("/tasks/{task}/decide", {"data": CERTIFY}, "applicant", 403),
    ("/tasks/{task}/decide", {"data": CERTIFY}, "approver", 200),
    ("/tasks/{task}/return", {"reason": "补材料"}, None, 401),
    ("/tasks/{task}/return", {"reason": "补材料"}, "hr", 404),
    ("/tasks/{task}/return", {"reason": "补材料"}, "applicant", 403),
    ("/tasks/{task}/return", {"reason": "补材料"}, "approver", 200),
    ("/instances/{request}/withdraw", {}, None, 401),
    ("/instances/{request}/withdraw", {}, "hr", 404),
    ("/instances/{request}/withdraw", {}, "approver", 403),  # only the applicant
    ("/instances/{request}/withdraw", {}, "applicant", 200),
    ("/instances/999999/withdraw", {}, "applicant", 404),
    ("/instances/99999999999999999999/withdraw", {}, "applicant", 404),  # beyond any key
    ("/tasks/99999999999999999999/decide", {"data": CERTIFY}, "approver", 404),
    ("/instances/{request}/comments", {"text": "收到"}, None, 401),
    ("/instances/{request}/comments", {"text": "收到"}, "hr", 404),
    ("/instances/{request}/comments", {"text": "收到"}, "approver", 201),
    ("/instances/{request}/comments", {"text": "收到"}, "applicant", 201),
]


@pytest.mark.parametrize(("path", "body", "caller", "status"), MATRIX)
def test_who_may_act(api_as, in_db, path, body, caller, status):
    ids = {"task": open_task(in_db, CARD), "request": in_db(lambda: instance_id(CARD))}
    reply = api_as(caller).post("/api/v1" + path.format(**ids), json=body)
    assert reply.status_code == status
    if status >= 400:
        assert reply.mimetype == PROBLEM and reply.headers["Content-Language"] == "zh"


def test_refusals_say_why_in_the_callers_language(api_as, in_db):
    task = open_task(in_db, CARD)
    own = api_as("applicant", "en-GB,en;q=0.9").post(f"/api/v1/tasks/{task}/claim")
    assert own.json["code"] == "not_allowed" and own.headers["Content-Language"] == "en"
    assert own.json["detail"] == "Not allowed: you cannot act on '单位负责人审核并确认为本单位人员'"
    chinese = api_as("applicant").post(f"/api/v1/tasks/{task}/claim")
    assert chinese.json["detail"] == "不允许：您不是任务“单位负责人审核并确认为本单位人员”的处理人"
    unseen = api_as("hr", "en").post(f"/api/v1/tasks/{task}/claim")
    assert unseen.json["code"] == "not_found" and unseen.json["detail"].startswith("No such")
    no_role = api_as("hr", "en").post("/api/v1/instances", json=card_request())
    assert (no_role.json["code"], no_role.json["detail"]) == ("forbidden", "You may not do this.")


def test_r20_nobody_certifies_a_request_they_filed(api_as, in_db):
    """A secretary who is also the department's approver files for one of two departments
    (`department_id`), and may not claim the certification of their own request."""
    add_user(
        in_db, "both", (Role.APPLICANT, "CS"), (Role.APPLICANT, "GEO"), (Role.DEPT_APPROVER, "CS")
    )
    caller, cs = api_as("both", "en"), department_id(in_db, "CS")
    unchosen = caller.post("/api/v1/instances", json=card_request())
    assert unchosen.status_code == 422 and unchosen.json["code"] == "invalid_input"
    filed = caller.post("/api/v1/instances", json=card_request() | {"department_id": cs})
    assert filed.status_code == 201 and filed.json["department_id"] == cs
    claim = caller.post(f"/api/v1/tasks/{filed.json['tasks'][0]['id']}/claim")
    assert claim.status_code == 403
    assert claim.json["detail"] == "Not allowed: nobody approves their own request"

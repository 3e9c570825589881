"""The process instance page (/instances/<id>): who sees it, what it shows (facts, form data,
current tasks, timeline, the diagram's marks), its BPMN text, comments and attachments."""

import json
import re
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from app.auth.accounts import find_user
from app.demo import DEMO_PASSWORD
from app.engine import engine_config
from app.extensions import db
from workflows import instances, tasks
from workflows.context import Env
from workflows.models import AuditEntry, HumanTask, Incident, ProcessInstance, TaskState
from workflows.webstate import MAX_ATTACHMENT_BYTES, Attachment

REQUEST = "DEMO-LSK-1"  # the CS department's temporary card request, with its approver


@pytest.fixture
def request_id(in_db):
    """The id of the applicant's temporary card request."""
    query = select(ProcessInstance.id).where(ProcessInstance.business_key == REQUEST)
    return in_db(lambda: db.session.scalar(query))


@pytest.fixture
def act(web, in_db):
    """`act("approver", operation, *args)`: run an engine operation as that demo login."""

    def run(username, operation, *args):
        def call():
            user = find_user(db.session, username)
            return operation(Env(db.session, user, datetime.now(UTC), engine_config(web)), *args)

        return in_db(call)

    return run


def marks_of(page: str) -> dict:
    """The element ids the page gives the diagram viewer."""
    found = re.search(r'<script type="application/json" id="diagram-marks">(.*?)</script>', page)
    return json.loads(found.group(1))


def open_task_id(in_db, instance_id: int) -> int:
    query = select(HumanTask.id).where(
        HumanTask.instance_id == instance_id, HumanTask.state == TaskState.OPEN
    )
    return in_db(lambda: db.session.scalar(query))


# --- who sees it --------------------------------------------------------------------------


def test_the_applicant_sees_the_request_data_tasks_and_timeline(as_user, request_id):
    reply = as_user("applicant").get(f"/instances/{request_id}")
    page = reply.get_data(as_text=True)
    assert reply.status_code == 200
    assert REQUEST in page and "临时卡申请" in page
    assert 'class="badge running">审批中' in page
    assert "信息科学与工程学院" in page  # the department
    assert "申请人员" in page and "马文博" in page and "科研项目临时聘用" in page
    assert "居民身份证" in page  # a choice under its label, not "resident_id"
    assert "单位负责人审核并确认为本单位人员" in page  # the current step
    assert "部门审核人（信息科学与工程学院）" in page  # who holds it
    assert 'class="event event-start"' in page and "提交申请" in page


def test_id_numbers_are_masked_for_the_applicant_and_whole_for_an_admin(as_user, request_id):
    applicant_page = as_user("applicant").get(f"/instances/{request_id}").get_data(as_text=True)
    admin_page = as_user("admin").get(f"/instances/{request_id}").get_data(as_text=True)
    assert "1101**********3015" in applicant_page
    assert "110108198506123015" not in applicant_page
    assert "110108198506123015" in admin_page


@pytest.mark.parametrize(
    "business_key, shown",
    [
        ("DEMO-LSK-1", "马文博"),
        ("DEMO-YQ-1", "项目延期至明年"),
        ("DEMO-SHJR-1", "学苑超市"),  # a nested group and a table
        ("DEMO-BB-1", "遗失"),  # a choice's label
        ("DEMO-QZZZ-1", "2026 届毕业生"),
    ],
)
def test_an_admin_sees_every_demo_request_with_its_data(as_user, in_db, business_key, shown):
    query = select(ProcessInstance.id).where(ProcessInstance.business_key == business_key)
    reply = as_user("admin").get(f"/instances/{in_db(lambda: db.session.scalar(query))}")
    assert reply.status_code == 200
    assert shown in reply.get_data(as_text=True)
    assert marks_of(reply.get_data(as_text=True))["current"]


def test_the_approver_holding_the_task_sees_the_request(as_user, request_id):
    assert as_user("approver").get(f"/instances/{request_id}").status_code == 200


@pytest.mark.parametrize("path", ["/instances/{id}", "/instances/{id}/diagram.xml"])
def test_another_departments_applicant_gets_404_as_for_no_request(as_user, request_id, path):
    client = as_user("logistics")
    hidden = client.get(path.format(id=request_id))
    missing = client.get(path.format(id=99999))
    assert hidden.status_code == missing.status_code == 404
    assert REQUEST not in hidden.get_data(as_text=True)


def test_the_page_needs_a_login(web, request_id):
    reply = web.test_client().get(f"/instances/{request_id}")
    assert reply.status_code == 302 and "/login" in reply.headers["Location"]


def test_the_page_speaks_english_by_choice(as_user, request_id):
    client = as_user("applicant")
    client.post("/language", data={"lang": "en"})
    page = client.get(f"/instances/{request_id}").get_data(as_text=True)
    assert "In progress" in page and "Submit request" in page and "Resident ID card" in page
    assert "Department approver (College of Information Science and Engineering)" in page


# --- the diagram --------------------------------------------------------------------------


def test_diagram_xml_is_the_bpmn_of_the_instances_definition_version(as_user, request_id, in_db):
    reply = as_user("applicant").get(f"/instances/{request_id}/diagram.xml")

    def bpmn_text():
        definition = db.session.get(ProcessInstance, request_id).definition
        return definition.sources[definition.file_name]

    assert reply.status_code == 200
    assert reply.mimetype == "application/xml"
    assert reply.get_data(as_text=True) == in_db(bpmn_text)
    assert 'id="dept_certify"' in reply.get_data(as_text=True)
    assert "sandbox" in reply.headers["Content-Security-Policy"]  # opened directly: inert


def test_the_page_marks_the_started_step_done_and_the_waiting_one_current(as_user, request_id):
    page = as_user("applicant").get(f"/instances/{request_id}").get_data(as_text=True)
    assert marks_of(page) == {"done": ["submit"], "current": ["dept_certify"], "failed": []}
    assert f'data-xml-url="/instances/{request_id}/diagram.xml"' in page
    assert "vendor/bpmn-js/bpmn-navigated-viewer.production.min.js" in page


def test_after_approval_the_decided_step_is_done(as_user, request_id, in_db, act):
    task_id = open_task_id(in_db, request_id)
    act("approver", tasks.complete, task_id, {"decision": "approve", "certified": True})
    marks = marks_of(as_user("applicant").get(f"/instances/{request_id}").get_data(as_text=True))
    assert {"submit", "dept_certify", "screen"} <= set(marks["done"])
    assert "dept_certify" not in marks["current"] and marks["current"]


def test_a_returned_request_waits_at_its_start_event_for_the_applicant(
    as_user, request_id, in_db, act
):
    act("approver", tasks.return_task, open_task_id(in_db, request_id), "请补充在职证明")
    page = as_user("applicant").get(f"/instances/{request_id}").get_data(as_text=True)
    assert marks_of(page)["current"] == ["submit"]
    assert "修改后重新提交" in page  # the applicant's task, not a BPMN step
    assert 'class="event event-return"' in page and "请补充在职证明" in page
    assert "单位负责人审核并确认为本单位人员 &rarr; 已退回" in page


def test_an_open_incident_marks_its_step_failed(as_user, request_id, in_db):
    def fail_screening():
        db.session.add(Incident(instance_id=request_id, spiff_task_id="", task_name="screen",
                                error="boom"))  # fmt: skip

    in_db(fail_screening)
    marks = marks_of(as_user("admin").get(f"/instances/{request_id}").get_data(as_text=True))
    assert marks["failed"] == ["screen"]


# --- comments -----------------------------------------------------------------------------


def test_a_comment_appears_in_the_timeline(as_user, request_id, in_db):
    client = as_user("applicant")
    reply = client.post(f"/instances/{request_id}/comment", data={"comment": "证明材料明天补交"})
    assert reply.status_code == 302
    page = client.get(reply.headers["Location"]).get_data(as_text=True)
    assert 'class="event event-comment"' in page and "证明材料明天补交" in page
    query = select(AuditEntry.comment).where(
        AuditEntry.instance_id == request_id, AuditEntry.action == "comment"
    )
    assert in_db(lambda: db.session.scalar(query)) == "证明材料明天补交"


def test_an_empty_comment_is_refused_beside_the_form(as_user, request_id):
    reply = as_user("applicant").post(f"/instances/{request_id}/comment", data={"comment": "  "})
    assert reply.status_code == 422
    assert 'id="comment-error"' in reply.get_data(as_text=True)


def test_someone_who_cannot_see_the_request_cannot_comment(as_user, request_id, in_db):
    reply = as_user("logistics").post(f"/instances/{request_id}/comment", data={"comment": "x"})
    assert reply.status_code == 404
    count = select(func.count()).where(AuditEntry.action == "comment")
    assert in_db(lambda: db.session.scalar(count)) == 0


# --- attachments --------------------------------------------------------------------------


def upload(client, instance_id, content: bytes, name: str = "在职证明.pdf"):
    """Post `content` as the form's file. The body is encoded here: werkzeug's test client
    would spool a large one to a temporary file it never closes (a ResourceWarning)."""
    boundary = "test-boundary-7f3a"
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return client.post(
        f"/instances/{instance_id}/attachments",
        data=head + content + f"\r\n--{boundary}--\r\n".encode(),
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def attachment_ids(in_db) -> list[int]:
    return in_db(lambda: list(db.session.scalars(select(Attachment.id))))


def test_the_applicant_attaches_a_file_that_viewers_download(as_user, request_id, in_db):
    client = as_user("applicant")
    assert upload(client, request_id, b"%PDF-1.4 proof").status_code == 302
    [attachment_id] = attachment_ids(in_db)
    page = client.get(f"/instances/{request_id}").get_data(as_text=True)
    assert f'href="/attachments/{attachment_id}"' in page and "在职证明.pdf" in page
    assert "14 B" in page and 'class="event event-attach"' in page

    download = as_user("approver").get(f"/attachments/{attachment_id}")
    assert download.status_code == 200
    assert download.data == b"%PDF-1.4 proof"
    assert download.mimetype == "application/pdf"
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert quote("在职证明.pdf") in disposition
    assert download.headers["X-Content-Type-Options"] == "nosniff"


def test_the_current_task_holder_may_attach_a_file(as_user, request_id, in_db):
    assert upload(as_user("approver"), request_id, b"scan").status_code == 302
    assert len(attachment_ids(in_db)) == 1


def test_a_viewer_who_holds_no_task_gets_no_upload_form_and_is_refused(as_user, request_id, in_db):
    client = as_user("admin")
    assert 'name="file"' not in client.get(f"/instances/{request_id}").get_data(as_text=True)
    assert upload(client, request_id, b"scan").status_code == 403
    assert attachment_ids(in_db) == []


def test_a_file_over_5_mb_is_refused_with_a_clear_message(as_user, request_id, in_db):
    reply = upload(as_user("applicant"), request_id, b"x" * (MAX_ATTACHMENT_BYTES + 1))
    assert reply.status_code == 422
    assert "附件不能超过 5 MB" in reply.get_data(as_text=True)
    assert attachment_ids(in_db) == []


def test_a_file_of_exactly_5_mb_is_taken(as_user, request_id, in_db):
    assert upload(as_user("applicant"), request_id, b"x" * MAX_ATTACHMENT_BYTES).status_code == 302
    assert len(attachment_ids(in_db)) == 1


def test_an_upload_without_a_file_asks_for_one(as_user, request_id):
    reply = as_user("applicant").post(f"/instances/{request_id}/attachments", data={})
    assert reply.status_code == 422
    assert "请选择要上传的文件" in reply.get_data(as_text=True)


def test_a_withdrawn_request_takes_no_more_files(as_user, request_id, in_db, act):
    act("applicant", instances.withdraw, request_id)
    client = as_user("applicant")
    assert 'name="file"' not in client.get(f"/instances/{request_id}").get_data(as_text=True)
    assert upload(client, request_id, b"late").status_code == 403


def test_a_file_name_keeps_no_folders(as_user, request_id, in_db):
    upload(as_user("applicant"), request_id, b"data", name="scans/../证明.png")
    assert in_db(lambda: db.session.scalar(select(Attachment.file_name))) == "证明.png"
    assert in_db(lambda: db.session.scalar(select(Attachment.content_type))) == "image/png"


@pytest.mark.parametrize("who, status", [("logistics", 404), ("applicant", 200), ("admin", 200)])
def test_only_those_who_see_the_request_download_its_files(as_user, request_id, in_db, who, status):
    upload(as_user("applicant"), request_id, b"data")
    [attachment_id] = attachment_ids(in_db)
    assert as_user(who).get(f"/attachments/{attachment_id}").status_code == status


def test_a_missing_attachment_is_404(as_user):
    assert as_user("applicant").get("/attachments/99999").status_code == 404


# --- CSRF ---------------------------------------------------------------------------------


def csrf_token(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


@pytest.mark.parametrize("web_config", [{"WTF_CSRF_ENABLED": True}])
def test_the_pages_forms_carry_the_csrf_token_they_need(web, request_id):
    client = web.test_client()
    login = {"username": "applicant", "password": DEMO_PASSWORD}
    client.post("/login", data=login | {"csrf_token": csrf_token(client.get("/login").text)})
    page = client.get(f"/instances/{request_id}").get_data(as_text=True)
    forms = re.findall(r'<form class="(upload|comment-form)".*?</form>', page, re.S)
    assert forms == ["upload", "comment-form"]
    assert page.count('<input type="hidden" name="csrf_token"') >= 4  # + language, logout
    url = f"/instances/{request_id}/comment"
    assert client.post(url, data={"comment": "无令牌"}).status_code == 400
    with_token = {"comment": "有令牌", "csrf_token": csrf_token(page)}
    assert client.post(url, data=with_token).status_code == 302


def test_in_english_the_waiting_step_has_its_english_name(as_user, request_id):
    applicant = as_user("applicant")
    applicant.post("/language", data={"lang": "en", "next": "/"})
    page = applicant.get(f"/instances/{request_id}").get_data(as_text=True)
    assert "Department head certifies the people as the department&#39;s" in page

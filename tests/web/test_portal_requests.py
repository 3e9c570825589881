"""The portal's list of the user's own requests (state, step, holder, pages), withdraw, urge,
the printable page, who may see and act on a request, and a roster uploaded as a file."""

from datetime import UTC, datetime, timedelta
from io import BytesIO

import pytest
from sqlalchemy import select

from app.auth.accounts import find_user
from app.engine import engine_config
from app.extensions import db
from forms.common import campus_today
from ledger.models.cards import Card
from ledger.models.people import Person
from workflows import instances, tasks
from workflows.context import Env
from workflows.models import AuditEntry, HumanTask, InstanceStatus, ProcessInstance
from workflows.webstate import Attachment

from .test_portal import instance_count, person_fields, resident_id

DEMO_TEMPORARY = 1  # DEMO-LSK-1, filed by `applicant`, waiting for the CS approver
CERTIFY_TASK = 1


@pytest.fixture
def act_as(in_db):
    """`act_as("approver", fn)`: fn(env) in a unit of work as that demo login."""

    def run(username: str, fn):
        def call():
            user = find_user(db.session, username)
            return fn(Env(db.session, user, datetime.now(UTC), engine_config()))

        return in_db(call)

    return run


def _status(in_db, instance_id: int) -> InstanceStatus:
    return in_db(lambda: db.session.get(ProcessInstance, instance_id).status)


def test_my_requests_show_state_current_step_and_who_holds_it(as_user):
    page = as_user("applicant").get("/requests").get_data(as_text=True)
    assert "DEMO-LSK-1" in page and "DEMO-YQ-1" in page
    assert "DEMO-SHJR-1" not in page  # filed by someone else
    assert "审批中" in page and "单位负责人审核并确认为本单位人员" in page
    assert "部门审核人（信息科学与工程学院）" in page
    assert f'href="/instances/{DEMO_TEMPORARY}"' in page


def test_a_claimed_step_shows_who_claimed_it(as_user, act_as):
    act_as("approver", lambda env: tasks.claim(env, CERTIFY_TASK))
    page = as_user("applicant").get("/requests").get_data(as_text=True)
    assert "部门负责人（信息学院）" in page


def test_my_requests_in_english(as_user):
    client = as_user("applicant")
    client.post("/language", data={"lang": "en", "next": "/"})
    page = client.get("/requests").get_data(as_text=True)
    assert "In progress" in page and "Department approver (College of Information" in page


def test_my_requests_filter_by_status(as_user, act_as):
    act_as("applicant", lambda env: instances.withdraw(env, DEMO_TEMPORARY, "不需要了"))
    client = as_user("applicant")
    withdrawn = client.get("/requests?status=withdrawn").get_data(as_text=True)
    running = client.get("/requests?status=running").get_data(as_text=True)
    assert "DEMO-LSK-1" in withdrawn and "DEMO-YQ-1" not in withdrawn
    assert "DEMO-LSK-1" not in running and "DEMO-YQ-1" in running


def test_my_requests_come_twenty_a_page(as_user, act_as):
    today = campus_today()

    def file_twenty(env):
        department = env.session.get(ProcessInstance, DEMO_TEMPORARY).department_id
        for n in range(20):
            data = {"people": [person_fields_data(n, today)], "reason": "批量测试"}
            instances.start_instance(env, "temporary_card", f"T-{n:02d}", data, department)

    act_as("applicant", file_twenty)
    client = as_user("applicant")
    first = client.get("/requests").get_data(as_text=True)
    second = client.get("/requests?page=2").get_data(as_text=True)
    assert "T-19" in first and "DEMO-LSK-1" not in first and "page=2" in first
    assert "DEMO-LSK-1" in second and "DEMO-YQ-1" in second and "T-19" not in second


def person_fields_data(n: int, today) -> dict:
    """One person of a temporary card application, as the form's data."""
    row = person_fields(0, f"测试{n}", resident_id(f"110105194912{n:03d}01"), today)
    return {key.split(".")[-1]: value for key, value in row.items()}


def test_a_returned_request_links_to_its_resubmission(as_user, act_as, in_db):
    act_as("approver", lambda env: tasks.return_task(env, CERTIFY_TASK, "请补充岗位说明"))
    task_id = in_db(
        lambda: db.session.scalar(
            select(HumanTask.id).where(
                HumanTask.instance_id == DEMO_TEMPORARY, HumanTask.kind == "resubmit"
            )
        )
    )
    page = as_user("applicant").get("/requests").get_data(as_text=True)
    assert "已退回" in page and "修改后重新提交" in page
    assert f'href="/tasks/{task_id}"' in page


def test_withdraw_with_a_reason(as_user, in_db):
    reply = as_user("applicant").post(
        f"/requests/{DEMO_TEMPORARY}/withdraw",
        data={"reason": "人员已另行安排", "next": "/requests?status=running"},
    )
    assert reply.status_code == 302 and reply.headers["Location"] == "/requests?status=running"
    assert _status(in_db, DEMO_TEMPORARY) == InstanceStatus.WITHDRAWN
    comment = in_db(
        lambda: db.session.scalar(
            select(AuditEntry.comment).where(
                AuditEntry.instance_id == DEMO_TEMPORARY, AuditEntry.action == "withdraw"
            )
        )
    )
    assert comment == "人员已另行安排"
    page = as_user("applicant").get("/requests").get_data(as_text=True)
    assert "申请 DEMO-LSK-1 已撤回。" in page or "已撤回" in page


def test_withdrawing_twice_is_refused_with_a_message(as_user):
    client = as_user("applicant")
    client.post(f"/requests/{DEMO_TEMPORARY}/withdraw", data={"reason": "x"})
    reply = client.post(f"/requests/{DEMO_TEMPORARY}/withdraw", follow_redirects=True)
    assert "不能撤回" in reply.get_data(as_text=True)


def test_urging_twice_within_the_hour_is_refused(as_user):
    client = as_user("applicant")
    first = client.post(f"/requests/{DEMO_TEMPORARY}/urge", follow_redirects=True)
    assert "已催办，已提醒 1 位处理人。" in first.get_data(as_text=True)
    second = client.post(f"/requests/{DEMO_TEMPORARY}/urge", follow_redirects=True)
    assert "一小时内只能催办一次" in second.get_data(as_text=True)


def test_print_page_shows_the_request_its_decisions_and_signature_boxes(as_user, act_as):
    decision = {"decision": "approve", "certified": True, "comment": "确系本院聘用"}
    act_as("approver", lambda env: tasks.complete(env, CERTIFY_TASK, decision))
    page = as_user("applicant").get(f"/requests/{DEMO_TEMPORARY}/print").get_data(as_text=True)
    assert "DEMO-LSK-1" in page and "信息科学与工程学院" in page
    assert "马文博" in page and "林雪" in page and "项目研究助理" in page
    assert "1101**********3015" in page and "110108198506123015" not in page
    assert "居民身份证" in page  # a choice shown by its label
    assert "同意" in page and "确系本院聘用" in page and "部门负责人（信息学院）" in page
    assert page.count('class="signature"') == 3  # applicant, certification, card office
    assert "data-print" in page and "portal.js" in page


@pytest.mark.parametrize(
    "login, method, action, status",
    [
        ("logistics", "get", "print", 404),
        ("logistics", "post", "withdraw", 404),
        ("logistics", "post", "urge", 404),
        ("approver", "post", "withdraw", 403),  # may see it, may not withdraw it
        ("approver", "post", "urge", 403),
        ("admin", "get", "print", 200),
    ],
)
def test_only_the_applicant_acts_on_a_request(as_user, in_db, login, method, action, status):
    client = as_user(login)
    reply = getattr(client, method)(f"/requests/{DEMO_TEMPORARY}/{action}")
    assert reply.status_code == status
    assert _status(in_db, DEMO_TEMPORARY) == InstanceStatus.RUNNING


def test_a_request_that_does_not_exist_is_not_found(as_user):
    assert as_user("applicant").get("/requests/9999/print").status_code == 404


def _card_of(in_db, name: str) -> str:
    query = select(Card.card_no).join(Person).where(Person.name == name)
    return in_db(lambda: db.session.scalar(query))


def _upload(client, csv_text: str, name: str = "2026届毕业生.csv"):
    data = {"action": "roster", "note": "毕业离校", "roster": (BytesIO(csv_text.encode()), name)}
    return client.post("/start/forced_termination", data=data)


def test_a_roster_with_an_error_row_names_the_row_and_files_nothing(as_user, in_db):
    before = in_db(instance_count)
    good = _card_of(in_db, "吴俊杰")
    roster = f"卡号,姓名,原因\n{good},吴俊杰,毕业\n99999999,无名氏,毕业\n"
    reply = _upload(as_user("registrar"), roster)
    page = reply.get_data(as_text=True)
    assert reply.status_code == 422
    assert "未提交任何内容" in page and "卡号不存在" in page
    assert '<td data-label="行号" class="num">3</td>' in page
    assert '<td data-label="行号" class="num">2</td>' not in page
    assert in_db(instance_count) == before


def test_a_clean_roster_is_filed_and_kept_as_an_attachment(as_user, in_db):
    good = _card_of(in_db, "吴俊杰")
    reply = _upload(as_user("registrar"), f"卡号,姓名,原因\n{good},吴俊杰,毕业\n")
    assert reply.status_code == 302

    def filed():
        instance = db.session.scalar(
            select(ProcessInstance).order_by(ProcessInstance.id.desc()).limit(1)
        )
        files = db.session.scalars(
            select(Attachment.file_name).where(Attachment.instance_id == instance.id)
        )
        return instance.process_id, instance.summary["department"], list(files)

    assert in_db(filed) == ("forced_termination", "教务处", ["2026届毕业生.csv"])


def test_uploading_without_a_file_asks_for_one(as_user):
    reply = as_user("registrar").post("/start/forced_termination", data={"action": "roster"})
    assert reply.status_code == 422 and "请选择名单文件" in reply.get_data(as_text=True)


def test_r22_an_extension_is_dated_a_year_ahead_at_most(as_user):
    too_far = (campus_today() + timedelta(days=400)).isoformat()
    form = {"card_no": "88001234", "new_expiry": too_far, "reason": "项目延期", "action": "file"}
    reply = as_user("applicant").post("/start/temporary_card_extension", data=form)
    page = reply.get_data(as_text=True)
    assert reply.status_code == 422 and 'id="new_expiry-error"' in page
    assert f'value="{too_far}"' in page

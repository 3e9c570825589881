"""The task page and its actions: who may open it, what it shows, deciding with the task's
form (errors beside the fields), return and resubmission, claim, transfer, add signer, copy."""

import re

from sqlalchemy import select

from app.extensions import db
from ledger.models.people import Department
from tests.web.test_inbox import (
    CARD,
    EXTENSION,
    add_user,
    form_values,
    open_task,
    page,
    task_row,
)
from workflows.identity import Role, RoleGrant, User
from workflows.models import AuditEntry, HumanTask, Notification, TaskKind, TaskState
from workflows.webstate import Attachment

CERTIFY = {"decision": "approve", "certified": "true", "comment": "均为本院聘用人员"}


def audit_actions(in_db, business_key: str) -> list[str]:
    query = (
        select(AuditEntry.action)
        .join(HumanTask, HumanTask.instance_id == AuditEntry.instance_id)
        .where(HumanTask.business_key == business_key)
        .distinct()
    )
    return sorted(in_db(lambda: db.session.scalars(query).all()))


def open_tasks_of(in_db, business_key: str) -> list[tuple[str, str | None, TaskKind]]:
    """(task name, candidate role, kind) of the request's open tasks."""
    query = select(HumanTask.task_name, HumanTask.candidate_role, HumanTask.kind).where(
        HumanTask.business_key == business_key, HumanTask.state == TaskState.OPEN
    )
    return [tuple(row) for row in in_db(lambda: db.session.execute(query).all())]


# --- who may open it ----------------------------------------------------------------------------


def test_the_task_page_shows_the_request_with_its_labels_and_masked_ids(as_user, in_db):
    html = page(as_user("approver").get(f"/tasks/{open_task(in_db, CARD)}"))
    assert "单位负责人审核并确认为本单位人员" in html
    assert "申请人员" in html and "马文博" in html and "科研项目临时聘用" in html
    assert "居民身份证" in html  # a choice by its label
    assert "1101**********3015" in html and "110108198506123015" not in html
    assert "提交申请" in html and 'href="/instances/' in html
    assert "所列人员均为本单位人员" in html  # the decision form of department_certification


def test_the_task_page_links_the_requests_attachments(as_user, in_db):
    task = open_task(in_db, CARD)

    def attach():
        row = db.session.get(HumanTask, task)
        db.session.add(
            Attachment(
                instance_id=row.instance_id, file_name="聘用合同.pdf",
                content_type="application/pdf", size=4, content=b"%PDF",
                uploaded_by_id=row.instance.started_by_id, uploaded_at=row.created_at,
            )
        )  # fmt: skip
        db.session.flush()
        return db.session.scalar(select(Attachment.id))

    attachment = in_db(attach)
    html = page(as_user("approver").get(f"/tasks/{task}"))
    assert f'<a href="/attachments/{attachment}" download>聘用合同.pdf</a>' in html


def test_a_user_who_may_see_the_request_but_not_act_gets_403(as_user, in_db):
    task = open_task(in_db, CARD)
    # The applicant filed it: they see the request, but do not certify their own.
    assert as_user("applicant").get(f"/tasks/{task}").status_code == 403
    assert as_user("applicant").post(f"/tasks/{task}/decide", data=CERTIFY).status_code == 403


def test_a_user_of_another_department_is_told_nothing_of_the_task(as_user, in_db):
    task = open_task(in_db, CARD)
    # The supervising department of LOGI cannot even see CS's request: 404, as if absent.
    assert as_user("supervisor").get(f"/tasks/{task}").status_code == 404
    assert as_user("supervisor").post(f"/tasks/{task}/decide", data=CERTIFY).status_code == 404
    assert as_user("approver").get("/tasks/999999").status_code == 404
    assert task_row(in_db, task)["state"] == TaskState.OPEN


def test_a_done_task_leads_to_its_request_page(as_user, in_db):
    task = open_task(in_db, CARD)
    client = as_user("approver")
    client.post(f"/tasks/{task}/decide", data=CERTIFY)
    reply = client.get(f"/tasks/{task}")
    assert reply.status_code == 302 and reply.headers["Location"].startswith("/instances/")


# --- deciding ---------------------------------------------------------------------------------


def test_approving_the_certification_moves_the_request_to_the_card_office(as_user, in_db):
    task = open_task(in_db, CARD)
    reply = as_user("approver").post(f"/tasks/{task}/decide", data=CERTIFY)
    assert reply.status_code == 302 and reply.headers["Location"] == "/inbox"
    assert task_row(in_db, task)["decision"] == "approve"
    assert open_tasks_of(in_db, CARD) == [("office_review", Role.CARD_OFFICE, TaskKind.TASK)]
    clerk_page = page(as_user("cardoffice").get(f"/tasks/{open_task(in_db, CARD)}"))
    assert "同意" in clerk_page and "均为本院聘用人员" in clerk_page  # the earlier decision
    assert "部门负责人（信息学院）" in clerk_page


def test_a_reject_without_comment_shows_the_error_beside_it_and_changes_nothing(as_user, in_db):
    task = open_task(in_db, CARD)
    before = audit_actions(in_db, CARD)
    reply = as_user("approver").post(f"/tasks/{task}/decide", data={"decision": "reject"})
    assert reply.status_code == 422
    html = page(reply)
    assert '<span class="field-error" id="comment-error">驳回须说明理由</span>' in html
    assert form_values(html, "/decide")["decision"] == "reject"  # the input is kept
    assert task_row(in_db, task)["state"] == TaskState.OPEN
    assert audit_actions(in_db, CARD) == before


def test_approving_without_certifying_is_refused_beside_the_box(as_user, in_db):
    task = open_task(in_db, CARD)
    reply = as_user("approver").post(f"/tasks/{task}/decide", data={"decision": "approve"})
    assert reply.status_code == 422 and 'id="certified-error"' in page(reply)


def test_a_returned_request_comes_back_to_the_applicant_who_resubmits_it(as_user, in_db):
    task = open_task(in_db, CARD)
    reply = as_user("approver").post(
        f"/tasks/{task}/return", data={"to": "submitter", "comment": "请补充岗位说明"}
    )
    assert reply.status_code == 302
    [(name, _role, kind)] = open_tasks_of(in_db, CARD)
    assert kind == TaskKind.RESUBMIT
    applicant = as_user("applicant")
    assert CARD in page(applicant.get("/inbox"))
    resubmit = open_task(in_db, CARD)
    html = page(applicant.get(f"/tasks/{resubmit}"))
    assert "请补充岗位说明" in html
    posted = form_values(html, "/decide")
    assert posted["people.0.name"] == "马文博" and posted["reason"] == "科研项目临时聘用"
    posted["reason"] = "科研项目临时聘用，岗位见附件"
    assert applicant.post(f"/tasks/{resubmit}/decide", data=posted).status_code == 302
    assert open_tasks_of(in_db, CARD) == [("dept_certify", Role.DEPT_APPROVER, TaskKind.TASK)]
    again = page(as_user("approver").get(f"/tasks/{open_task(in_db, CARD)}"))
    assert "科研项目临时聘用，岗位见附件" in again and "重新提交" in again


def test_a_return_to_an_earlier_step_goes_to_who_decided_it(as_user, in_db):
    as_user("approver").post(f"/tasks/{open_task(in_db, CARD)}/decide", data=CERTIFY)
    review = open_task(in_db, CARD)
    clerk = as_user("cardoffice")
    html = page(clerk.get(f"/tasks/{review}"))
    assert '<option value="dept_certify">单位负责人审核并确认为本单位人员</option>' in html
    reply = clerk.post(f"/tasks/{review}/return", data={"to": "dept_certify", "comment": "重核"})
    assert reply.status_code == 302
    back = open_task(in_db, CARD)
    assert task_row(in_db, back)["assignee"] == "approver"
    assert CARD in page(as_user("approver").get("/inbox"))


def test_a_return_needs_a_reason(as_user, in_db):
    task = open_task(in_db, CARD)
    reply = as_user("approver").post(f"/tasks/{task}/return", data={"to": "submitter"})
    assert reply.status_code == 422 and "退回须说明理由" in page(reply)
    assert task_row(in_db, task)["state"] == TaskState.OPEN


# --- claim, transfer, add signer, copy ------------------------------------------------------------


def test_a_claimed_task_is_out_of_reach_of_the_other_approvers(as_user, in_db):
    add_user(in_db, "approver2", (Role.DEPT_APPROVER, "CS"))
    task = open_task(in_db, CARD)
    mine = as_user("approver")
    assert mine.post(f"/tasks/{task}/claim").status_code == 302
    assert task_row(in_db, task)["assignee"] == "approver"
    other = as_user("approver2")
    assert CARD not in page(other.get("/inbox"))
    assert other.post(f"/tasks/{task}/decide", data=CERTIFY).status_code in (403, 404)
    assert other.post(f"/tasks/{task}/claim").status_code in (403, 404)
    assert task_row(in_db, task)["state"] == TaskState.OPEN
    assert "部门负责人（信息学院）" in page(mine.get("/inbox"))  # the assignee column
    mine.post(f"/tasks/{task}/unclaim")
    assert task_row(in_db, task)["assignee"] is None
    assert CARD in page(other.get("/inbox"))


def test_transfer_hands_the_task_to_another_approver(as_user, in_db):
    add_user(in_db, "approver2", (Role.DEPT_APPROVER, "CS"))
    task = open_task(in_db, CARD)
    html = page(as_user("approver").get(f"/tasks/{task}"))
    assert "approver2" in html  # offered among those who qualify
    reply = as_user("approver").post(
        f"/tasks/{task}/transfer", data={"username": "approver2", "comment": "我出差"}
    )
    assert reply.status_code == 302
    assert task_row(in_db, task)["assignee"] == "approver2"
    assert CARD in page(as_user("approver2").get("/inbox"))
    assert CARD not in page(as_user("approver").get("/inbox"))


def test_transfer_to_someone_without_the_role_is_refused_on_the_page(as_user, in_db):
    task = open_task(in_db, CARD)
    reply = as_user("approver").post(f"/tasks/{task}/transfer", data={"username": "hr"})
    assert reply.status_code == 403 and "没有处理此任务的角色" in page(reply)
    reply = as_user("approver").post(f"/tasks/{task}/transfer", data={"username": "nobody"})
    assert reply.status_code == 422 and "有效的用户名" in page(reply)
    assert task_row(in_db, task)["assignee"] is None


def test_a_signer_added_before_decides_first_then_the_task_comes_back(as_user, in_db):
    add_user(in_db, "dean", (Role.DEPT_APPROVER, "CS"))
    task = open_task(in_db, CARD)
    reply = as_user("approver").post(
        f"/tasks/{task}/add-signer",
        data={"signer": "dean", "position": "before", "comment": "请院长把关"},
    )
    assert reply.status_code == 302
    assert task_row(in_db, task) | {"kind": None} == {
        "state": TaskState.OPEN, "decision": None, "kind": None,
        "assignee": "dean", "return_to": "approver",
    }  # fmt: skip
    assert as_user("dean").post(f"/tasks/{task}/decide", data=CERTIFY).status_code == 302
    assert task_row(in_db, task)["assignee"] == "approver"
    assert "加签人同意" in page(as_user("approver").get(f"/tasks/{task}"))


def test_a_signer_added_after_approves_with_the_form_data(as_user, in_db):
    add_user(in_db, "dean", (Role.DEPT_APPROVER, "CS"))
    task = open_task(in_db, CARD)
    data = {"signer": "dean", "position": "after", "certified": "true", "comment": "同意"}
    assert as_user("approver").post(f"/tasks/{task}/add-signer", data=data).status_code == 302
    assert task_row(in_db, task)["assignee"] == "dean"
    assert as_user("dean").post(f"/tasks/{task}/decide", data=CERTIFY).status_code == 302
    assert open_tasks_of(in_db, CARD) == [("office_review", Role.CARD_OFFICE, TaskKind.TASK)]


def test_a_signer_after_without_the_forms_confirmation_is_refused_beside_it(as_user, in_db):
    add_user(in_db, "dean", (Role.DEPT_APPROVER, "CS"))
    task = open_task(in_db, CARD)
    data = {"signer": "dean", "position": "after"}
    reply = as_user("approver").post(f"/tasks/{task}/add-signer", data=data)
    assert reply.status_code == 422 and 'id="certified-error"' in page(reply)
    assert form_values(page(reply), "/decide")["signer"] == "dean"
    assert task_row(in_db, task)["assignee"] is None


def test_copy_tells_the_people_named_and_lets_them_see_the_request(as_user, in_db):
    task = open_task(in_db, CARD)
    reply = as_user("approver").post(
        f"/tasks/{task}/copy", data={"usernames": "hr, itcenter", "comment": "请知悉"}
    )
    assert reply.status_code == 302 and reply.headers["Location"] == f"/tasks/{task}"
    copies = select(Notification.user_id).where(Notification.kind == "copy")
    assert len(in_db(lambda: db.session.scalars(copies).all())) == 2
    assert "抄送" in page(as_user("hr").get("/notifications"))
    unknown = as_user("approver").post(f"/tasks/{task}/copy", data={"usernames": "ghost"})
    assert unknown.status_code == 422 and "找不到用户：ghost" in page(unknown)


def test_the_plain_decision_form_approves_the_extension(as_user, in_db):
    task = open_task(in_db, EXTENSION)
    reply = as_user("approver").post(f"/tasks/{task}/decide", data={"decision": "approve"})
    assert reply.status_code == 302
    assert task_row(in_db, task)["decision"] == "approve"


# --- whom the page offers: the task's role holders, bounded -------------------------------------


def add_role_holders(in_db, count: int, role: Role, code: str, prefix: str) -> None:
    """`count` active users holding `role` for the department `code` (no password to hash)."""

    def add():
        department = db.session.scalar(select(Department.id).where(Department.code == code))
        for i in range(count):
            user = User(username=f"{prefix}{i:03d}", display_name=f"{prefix}{i}", password_hash="-")
            user.grants.append(RoleGrant(role=role, department_id=department))
            db.session.add(user)
        db.session.flush()

    in_db(add)


def offered(html: str) -> list[str]:
    """The usernames the page's datalist suggests."""
    found = re.search(r'<datalist id="people">(.*?)</datalist>', html, re.S)
    return re.findall(r'<option value="([^"]+)">', found[1])


def test_the_page_suggests_the_tasks_role_holders_not_the_whole_directory(as_user, in_db):
    add_user(in_db, "deputy", (Role.DEPT_APPROVER, "CS"))
    add_user(in_db, "elsewhere", (Role.DEPT_APPROVER, "LOGI"))
    html = page(as_user("approver").get(f"/tasks/{open_task(in_db, CARD)}"))
    assert offered(html) == ["deputy"]  # not the approver, nor hr, nor LOGI's approver
    assert "只列出前" not in html


def test_the_suggestions_stop_at_fifty_and_say_so(as_user, in_db):
    add_role_holders(in_db, 60, Role.DEPT_APPROVER, "CS", "cs")
    html = page(as_user("approver").get(f"/tasks/{open_task(in_db, CARD)}"))
    names = offered(html)
    assert len(names) == 50 and names == sorted(names) and names[0] == "cs000"
    assert "只列出前 50 人，其他人请填写用户名" in html
    assert html.count('<option value="') < 110  # the transfer choice has as many, no more

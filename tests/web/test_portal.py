"""The department portal: what a user may file, filing from the start form, errors beside the
fields, drafts, the reminder's pre-filled link, and who may open the start form."""

import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from app.extensions import db
from forms.common import campus_today
from workflows.models import HumanTask, ProcessInstance, TaskState
from workflows.webstate import Attachment, Draft

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def resident_id(body: str) -> str:
    """A valid resident ID number: 17 digits and their check character."""
    total = sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True))
    return body + "10X98765432"[total % 11]


def person_fields(index: int, name: str, id_number: str, today) -> dict:
    """One person's row of the temporary card form, as posted."""
    row = {
        "name": name, "id_type": "resident_id", "id_number": id_number, "phone": "13900001111",
        "post": "访问学者", "work_from": today.isoformat(),
        "work_until": (today + timedelta(days=90)).isoformat(),
    }  # fmt: skip
    return {f"people.{index}.{key}": value for key, value in row.items()}


def instance_count(**where) -> int:
    """How many requests there are (with these column values)."""
    query = select(func.count()).select_from(ProcessInstance).filter_by(**where)
    return db.session.scalar(query)


def temporary_card_form(**changes) -> dict:
    today = campus_today()
    form = {
        "reason": "科研项目临时聘用",
        **person_fields(0, "赵一鸣", resident_id("11010519491231002"), today),
        **person_fields(1, "钱二宝", resident_id("11010519491231003"), today),
        "action": "file",
    }
    return form | changes


def test_start_list_offers_what_the_users_roles_file(as_user):
    secretary = as_user("applicant").get("/start").get_data(as_text=True)
    registrar = as_user("registrar").get("/start").get_data(as_text=True)
    assert "临时卡申请" in secretary and "商户接入" in secretary
    assert "校园卡强制终止" not in secretary
    assert "校园卡强制终止" in registrar and "临时卡申请" not in registrar


def test_start_list_is_in_english_by_choice(as_user):
    client = as_user("applicant")
    client.post("/language", data={"lang": "en", "next": "/"})
    page = client.get("/start").get_data(as_text=True)
    assert "Temporary card" in page and "临时卡申请" not in page


def test_filing_a_temporary_card_for_two_people_opens_the_approvers_task(as_user, in_db):
    reply = as_user("applicant").post("/start/temporary_card", data=temporary_card_form())
    assert reply.status_code == 302
    instance_id = int(reply.headers["Location"].rsplit("/", 1)[-1])
    assert reply.headers["Location"].endswith(f"/instances/{instance_id}")

    def check():
        instance = db.session.get(ProcessInstance, instance_id)
        task = db.session.scalar(select(HumanTask).where(HumanTask.instance_id == instance_id))
        same_department = task.candidate_department_id == instance.department_id
        return (
            instance.business_key, instance.title, instance.summary["department"],
            (task.state, task.candidate_role, same_department),
        )  # fmt: skip

    key, title, department, task = in_db(check)
    assert re.fullmatch(r"LSK-\d{8}-0001", key)
    assert title == "临时卡申请：赵一鸣等 2 人"
    assert department == "信息科学与工程学院"
    assert task == (TaskState.OPEN, "dept_approver", True)


def test_business_keys_count_up_within_the_day(as_user, in_db):
    client = as_user("applicant")
    client.post("/start/temporary_card", data=temporary_card_form())
    second = temporary_card_form(
        **person_fields(0, "孙三", resident_id("11010519491231005"), campus_today()),
        **person_fields(1, "李四", resident_id("11010519491231006"), campus_today()),
    )
    client.post("/start/temporary_card", data=second)
    keys = in_db(
        lambda: sorted(
            db.session.scalars(
                select(ProcessInstance.business_key).where(
                    ProcessInstance.business_key.like("LSK-%")
                )
            )
        )
    )
    assert [key[-4:] for key in keys] == ["0001", "0002"]


def test_a_key_taken_at_the_same_moment_is_retried_with_the_next(as_user, in_db, monkeypatch):
    from app.portal import filing

    given = iter(["DEMO-LSK-1", "LSK-20990101-0001"])
    monkeypatch.setattr(filing, "next_business_key", lambda *_args: next(given))
    reply = as_user("applicant").post("/start/temporary_card", data=temporary_card_form())
    assert reply.status_code == 302
    assert in_db(lambda: instance_count(business_key="LSK-20990101-0001")) == 1


def test_form_errors_are_shown_beside_the_fields_with_the_input_kept(as_user, in_db):
    before = in_db(instance_count)
    wrong = resident_id("11010519491231002")[:-1] + "0"
    if wrong == resident_id("11010519491231002"):
        wrong = wrong[:-1] + "1"
    form = temporary_card_form(**{"people.0.id_number": wrong})
    reply = as_user("applicant").post("/start/temporary_card", data=form)
    page = reply.get_data(as_text=True)
    assert reply.status_code == 422
    assert 'id="people.0.id_number-error"' in page and "身份证号码无效" in page
    assert f'value="{wrong}"' in page and 'value="钱二宝"' in page
    assert "科研项目临时聘用" in page
    assert in_db(instance_count) == before


def test_missing_required_field_is_reported_beside_it(as_user):
    form = temporary_card_form(reason="")
    page = as_user("applicant").post("/start/temporary_card", data=form).get_data(as_text=True)
    assert 'id="reason-error"' in page


def test_draft_is_saved_resumed_and_deleted(as_user, in_db):
    client = as_user("applicant")
    form = temporary_card_form(action="draft", reason="先存一下")
    reply = client.post("/start/temporary_card", data=form)
    assert reply.status_code == 302 and "draft=" in reply.headers["Location"]
    draft_id = int(reply.headers["Location"].rsplit("draft=", 1)[-1])
    resumed = client.get(f"/start/temporary_card?draft={draft_id}").get_data(as_text=True)
    assert "先存一下" in resumed and 'value="赵一鸣"' in resumed
    assert "赵一鸣等 2 人" in client.get("/start").get_data(as_text=True)
    assert f"draft={draft_id}" in client.get("/drafts").get_data(as_text=True)
    deleted = client.post(f"/drafts/{draft_id}/delete", data={"next": "/drafts"})
    assert deleted.status_code == 302
    assert in_db(lambda: db.session.get(Draft, draft_id)) is None


def test_saving_a_draft_again_updates_it(as_user, in_db):
    client = as_user("applicant")
    first = client.post("/start/temporary_card", data={"reason": "初稿", "action": "draft"})
    draft_id = int(first.headers["Location"].rsplit("draft=", 1)[-1])
    again = {"reason": "改稿", "action": "draft", "draft_id": str(draft_id)}
    client.post("/start/temporary_card", data=again)
    drafts = in_db(lambda: [(d.id, d.data["reason"]) for d in db.session.scalars(select(Draft))])
    assert drafts == [(draft_id, "改稿")]


def test_filing_a_draft_deletes_it(as_user, in_db):
    client = as_user("applicant")
    saved = client.post("/start/temporary_card", data=temporary_card_form(action="draft"))
    draft_id = int(saved.headers["Location"].rsplit("draft=", 1)[-1])
    filed = client.post("/start/temporary_card", data=temporary_card_form(draft_id=str(draft_id)))
    assert filed.status_code == 302
    assert in_db(lambda: db.session.get(Draft, draft_id)) is None


def test_someone_elses_draft_is_not_found(as_user):
    saved = as_user("applicant").post(
        "/start/temporary_card", data={"reason": "草稿", "action": "draft"}
    )
    draft_id = int(saved.headers["Location"].rsplit("draft=", 1)[-1])
    other = as_user("logistics")
    assert other.get(f"/start/temporary_card?draft={draft_id}").status_code == 404
    assert other.post(f"/drafts/{draft_id}/delete").status_code == 404


def test_r22_the_expiry_reminders_link_fills_the_extension_form(as_user):
    new_expiry = (campus_today() + timedelta(days=200)).isoformat()
    link = f"/start/temporary_card_extension?card_no=88001234&new_expiry={new_expiry}"
    page = as_user("applicant").get(link).get_data(as_text=True)
    assert 'name="card_no" value="88001234"' in page
    assert f'value="{new_expiry}"' in page


@pytest.mark.parametrize(
    "login, process, status",
    [
        ("approver", "temporary_card", 403),
        ("applicant", "forced_termination", 403),
        ("admin", "temporary_card", 403),
        ("applicant", "no_such_process", 404),
        ("registrar", "forced_termination", 200),
        ("cardoffice", "card_reissue", 200),
    ],
)
def test_start_form_is_only_for_the_roles_that_file_it(as_user, login, process, status):
    assert as_user(login).get(f"/start/{process}").status_code == status


def test_start_form_needs_a_login(web):
    reply = web.test_client().get("/start/temporary_card")
    assert reply.status_code == 302 and "/login" in reply.headers["Location"]


def test_merchant_form_lists_departments_to_supervise(as_user):
    page = as_user("logistics").get("/start/merchant_onboarding").get_data(as_text=True)
    assert 'name="merchant.supervising_department_id"' in page and "后勤管理处" in page


def test_a_user_with_two_departments_chooses_one(as_user, in_db):
    from ledger.models.people import Department
    from workflows.identity import Role, RoleGrant, User

    def grant_logistics():
        user = db.session.scalar(select(User).where(User.username == "applicant"))
        logi = db.session.scalar(select(Department).where(Department.code == "LOGI"))
        db.session.add(RoleGrant(user_id=user.id, role=Role.APPLICANT, department_id=logi.id))
        return logi.id

    logi_id = in_db(grant_logistics)
    client = as_user("applicant")
    assert 'name="filing_department"' in client.get("/start/temporary_card").get_data(as_text=True)
    form = {"reason": "给后勤", "action": "draft", "filing_department": str(logi_id)}
    client.post("/start/temporary_card", data=form)
    assert in_db(lambda: db.session.scalar(select(Draft.department_id))) == logi_id
    wrong = client.post("/start/temporary_card", data=form | {"filing_department": "999"})
    assert wrong.status_code == 422 and "请选择申请部门" in wrong.get_data(as_text=True)


def test_attachments_are_stored_with_the_request(as_user, in_db):
    form = temporary_card_form(attachments=(io.BytesIO(b"%PDF-1.4 scan"), "聘用证明.pdf"))
    reply = as_user("applicant").post("/start/temporary_card", data=form)
    assert reply.status_code == 302
    stored = in_db(lambda: [(a.file_name, a.size) for a in db.session.scalars(select(Attachment))])
    assert stored == [("聘用证明.pdf", 13)]


def test_an_attachment_over_5_mb_is_refused_and_nothing_filed(as_user, in_db):
    before = in_db(instance_count)
    big = io.BytesIO(b"x" * (5 * 1024 * 1024 + 1))
    form = temporary_card_form(attachments=FileStorage(big, "big.pdf"))
    # Encoded in memory: the test client would spool it to a file that it never closes.
    boundary, body = encode_multipart(form)
    reply = as_user("applicant").post(
        "/start/temporary_card", data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )  # fmt: skip
    page = reply.get_data(as_text=True)
    assert reply.status_code == 413 and "5 MB" in page and 'value="赵一鸣"' in page
    assert in_db(instance_count) == before
    assert in_db(lambda: db.session.scalar(select(func.count()).select_from(Attachment))) == 0

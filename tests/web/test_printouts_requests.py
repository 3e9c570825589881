"""Requests as their printed forms (PDF/A, in Chinese): each process's form drawn from the
demo requests (advanced through their steps by the demo logins) holds the request's fields,
its decisions with their comments and what the steps did; ID numbers are masked; whoever may
not see the request gets 404. Each test renders once."""

import re
from datetime import UTC, datetime

import zxingcpp
from PIL import Image
from sqlalchemy import select

from app.auth.accounts import find_user
from app.engine import engine_config
from app.extensions import db
from ledger.models.cards import Card
from ledger.models.people import Department, Person
from tests.pdf_support import page_count, page_image, pdf_text
from tests.web.test_portal import resident_id
from workflows import tasks
from workflows.context import Env
from workflows.instances import start_instance
from workflows.models import HumanTask, ProcessInstance, TaskState

DELEGATE_ID = resident_id("11010119900101123")


def _env(login: str) -> Env:
    return Env(db.session, find_user(db.session, login), datetime.now(UTC), engine_config())


def instance_id(in_db, key: str) -> int:
    query = select(ProcessInstance.id).where(ProcessInstance.business_key == key)
    return in_db(lambda: db.session.scalar(query))


def card_of(in_db, name: str) -> str:
    query = select(Card.card_no).join(Person).where(Person.name == name)
    return in_db(lambda: db.session.scalar(query))


def decide(in_db, login: str, key: str, step: str, **data) -> None:
    """`login` completes the request's first open task `step`, approving unless told."""

    def run():
        query = (
            select(HumanTask.id)
            .where(HumanTask.business_key == key, HumanTask.task_name == step)
            .where(HumanTask.state == TaskState.OPEN)
            .order_by(HumanTask.id)
        )
        task_id = db.session.scalars(query).first()
        tasks.complete(_env(login), task_id, {"decision": "approve"} | data)

    in_db(run)


def file(in_db, login: str, process: str, key: str, data: dict, code: str | None = None) -> int:
    """`login` files a request of `process` for the department `code`; its id."""

    def run():
        department = db.session.scalar(select(Department.id).where(Department.code == code))
        return start_instance(_env(login), process, key, data, department).id

    return in_db(run)


def form_pdf(client, request_id: int) -> bytes:
    """The request's printed form, checked to come as an inline PDF."""
    reply = client.get(f"/requests/{request_id}/form.pdf")
    assert reply.status_code == 200 and reply.mimetype == "application/pdf"
    assert reply.headers["Content-Disposition"].startswith("inline; filename*=UTF-8''")
    return reply.data


def flat(text: str) -> str:
    """The text with runs of blanks as one space: a table's cells one after the other."""
    return re.sub(r"[ \t]+", " ", text)


def test_r20_r21_the_temporary_card_form_fits_a_page_with_certification_and_card(as_user, in_db):
    decide(in_db, "approver", "DEMO-LSK-1", "dept_certify", certified=True, comment="确系本院聘用")
    decide(in_db, "cardoffice", "DEMO-LSK-1", "office_review", comment="材料齐全")
    decide(
        in_db, "cardoffice", "DEMO-LSK-1", "visit",
        identity_checked=True, fee_paid=True, new_card_no="2026999001",
    )  # fmt: skip
    request_id = instance_id(in_db, "DEMO-LSK-1")
    pdf = form_pdf(as_user("applicant"), request_id)
    text = flat(pdf_text(pdf))
    for shown in (
        "临时卡申请表", "业务编号：DEMO-LSK-1", "信息科学与工程学院", "部门秘书（信息学院）",
        "马文博", "林雪", "居民身份证", "1101**********3015", "1302**********4525", "项目研究助理",
        "13900001111", "科研项目临时聘用", "每人 25.00 元", "2026999001",
        "申请单位负责人审核 同意 办理人 部门负责人（信息学院）", "确认为本单位人员 是",
        "确系本院聘用", "人员核查 无误", "卡务中心审核 同意 办理人 卡务中心柜员", "材料齐全",
        "部门负责人（盖章）", "第1页，共1页",
    ):  # fmt: skip
        assert shown in text, shown
    assert "110108198506123015" not in text and "130203199203184525" not in text
    assert page_count(pdf) == 1
    image = page_image(pdf, dpi=200)
    try:
        (code,) = zxingcpp.read_barcodes(Image.open(image))
    finally:
        image.unlink()
    assert code.text == f"http://localhost/instances/{request_id}"


def test_r16_r03_a_delegated_reissue_records_the_delegate_the_fee_and_the_new_card(as_user, in_db):
    old_card = card_of(in_db, "吴俊杰")
    delegate = {
        "name": "王小明", "id_type": "resident_id", "id_number": DELEGATE_ID,
        "evidence": "written_delegation", "evidence_ref": "委托书 2026-017",
    }  # fmt: skip
    data = {"card_no": old_card, "reason": "damaged", "mode": "delegated", "delegate": delegate}
    request_id = file(in_db, "cardoffice", "card_reissue", "BB-DELEGATE-1", data)
    decide(
        in_db, "cardoffice", "BB-DELEGATE-1", "counter",
        identity_checked=True, fee_paid=True, new_card_no="2026888001", comment="代办人已签字",
    )  # fmt: skip
    text = flat(pdf_text(form_pdf(as_user("cardoffice"), request_id)))
    for shown in (
        "补办校园卡申请表", "BB-DELEGATE-1", old_card, "损坏", "吴俊杰", "学生卡", "已补办作废",
        "4401**********0813", "他人代办", "代办委托", "王小明",
        f"居民身份证 {DELEGATE_ID[:4]}**********{DELEGATE_ID[-4:]}", "委托证明", "委托书 2026-017",
        "工本费 20.00 元", "现金", "已核验证件 是", "已收取工本费 是", "代办人已签字",
        "新卡号 2026888001", "代办人", "卡务中心经办人",
    ):  # fmt: skip
        assert shown in text, shown
    assert DELEGATE_ID not in text and "440106200112070813" not in text


def test_r23_the_merchant_onboarding_form_holds_the_application_and_each_approval(as_user, in_db):
    key = "DEMO-SHJR-1"
    decide(in_db, "supervisor", key, "supervising_review", comment="同意学苑超市接入")
    decide(in_db, "settlement", key, "account_review", account_confirmed=True, comment="账户已核")
    decide(
        in_db, "settlement", key, "agreement",
        agreement_signed=True, agreement_no="XY-2026-07", comment="协议已签",
    )  # fmt: skip
    decide(in_db, "cardoffice", key, "office_review", comment="准予接入")
    text = flat(pdf_text(form_pdf(as_user("logistics"), instance_id(in_db, key))))
    for shown in (
        "校园卡商户接入申请表", "新商户接入", "XUEYUAN", "学苑超市", "商店", "学苑楼一层",
        "经营单位 后勤管理处", "主管部门 后勤管理处", "FIN-2026-0318", "按营业额 0.5% 收取管理费",
        "每周（默认）", "POS-XY-01", "POS 机", "学苑楼一层收银台",
        "主管部门审批 同意 办理人 后勤管理处（主管部门）", "同意学苑超市接入",
        "已核实结算账户 是", "账户已核", "协议编号 XY-2026-07", "协议已签", "准予接入",
        "已登记终端 POS-XY-01", "已办结", "经营单位（盖章）", "主管部门（盖章）",
    ):  # fmt: skip
        assert shown in text, shown


def test_r24_the_merchant_revocation_form_shows_the_merchant_settled_and_confirmed(as_user, in_db):
    data = {"merchant_code": "BUS", "reason": "校车线路停运"}
    request_id = file(in_db, "logistics", "merchant_revocation", "SHCX-1", data, "LOGI")
    decide(in_db, "settlement", "SHCX-1", "settle_review", comment="已结清")
    decide(in_db, "supervisor", "SHCX-1", "supervising_review", comment="同意撤销")
    decide(in_db, "itcenter", "SHCX-1", "it_confirm", comment="终端已回收")
    text = flat(pdf_text(form_pdf(as_user("logistics"), request_id)))
    for shown in (
        "校园卡商户撤销申请表", "SHCX-1", "商户编号 BUS", "校车线路停运", "校车（北校园—东校园线）",
        "校车", "后勤管理处", "已停用", "结清后余额 0.00 元", "已结清", "同意撤销",
        "信息技术中心确认 同意 办理人 信息技术中心", "终端已回收", "商户已撤销",
        "结算中心", "信息技术中心",
    ):  # fmt: skip
        assert shown in text, shown


def test_r19_the_roster_is_grouped_by_reason_with_its_counts(as_user, in_db):
    entries = [
        {"card_no": card_of(in_db, "孙浩然"), "name": "孙浩然", "reason": "graduated"},
        {"card_no": card_of(in_db, "吴俊杰"), "name": "吴俊杰", "reason": "graduated",
         "id_number": "440106200112070813"},
        {"card_no": card_of(in_db, "Aigerim Bekova"), "name": "Aigerim Bekova",
         "reason": "withdrawn"},
    ]  # fmt: skip
    data = {"entries": entries, "note": "2026 届毕业及退学学生"}
    request_id = file(in_db, "registrar", "forced_termination", "QZZZ-ROSTER-1", data, "ACAD")
    spared = entries[0]["card_no"]
    review = {"excluded": [spared], "comment": "孙浩然延期毕业"}
    decide(in_db, "itcenter", "QZZZ-ROSTER-1", "it_review", **review)
    text = flat(pdf_text(form_pdf(as_user("registrar"), request_id)))
    for shown in (
        "校园卡强制终止名单", "2026 届毕业及退学学生", "毕业 2 1 1", "退学 1 0 1", "合计 3 1 2",
        "毕业（2 人）", "退学（1 人）", f"{spared} 孙浩然", "不予终止", "4401**********0813",
        "Aigerim Bekova", "孙浩然延期毕业", "退至银行卡 1 笔",
    ):  # fmt: skip
        assert shown in text, shown
    assert re.search(r"已终止 2 ?张", text) and "440106200112070813" not in text
    assert text.index("毕业（2 人）") < text.index("吴俊杰") < text.index("退学（1 人）")


def test_the_extension_prints_the_generic_form_in_chinese_for_an_english_ui(as_user, in_db):
    decide(in_db, "approver", "DEMO-YQ-1", "dept_review", comment="同意延期")
    client = as_user("applicant")
    client.post("/language", data={"lang": "en"})
    text = flat(pdf_text(form_pdf(client, instance_id(in_db, "DEMO-YQ-1"))))
    for shown in (
        "临时卡延期申请表", "DEMO-YQ-1", "临时卡卡号", card_of(in_db, "郑晓东"), "延期至",
        "项目延期至明年", "单位负责人审核 同意 部门负责人（信息学院）", "同意延期", "审批中",
        "申请人", "卡务中心审核",
    ):  # fmt: skip
        assert shown in text, shown
    assert "Extension" not in text and "In progress" not in text


def test_whoever_may_not_see_the_request_gets_404(as_user, in_db, web):
    request_id = instance_id(in_db, "DEMO-LSK-1")
    assert as_user("logistics").get(f"/requests/{request_id}/form.pdf").status_code == 404
    assert as_user("applicant").get("/requests/9999/form.pdf").status_code == 404
    anonymous = web.test_client().get(f"/requests/{request_id}/form.pdf")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_the_print_page_and_the_request_page_link_the_pdf(as_user, in_db):
    request_id = instance_id(in_db, "DEMO-LSK-1")
    client, link = as_user("applicant"), f'href="/requests/{request_id}/form.pdf"'
    assert link in client.get(f"/requests/{request_id}/print").get_data(as_text=True)
    assert link in client.get(f"/instances/{request_id}").get_data(as_text=True)
    client.post("/language", data={"lang": "en"})
    assert "Print PDF" in client.get(f"/instances/{request_id}").get_data(as_text=True)

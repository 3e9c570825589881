"""The printed request forms on their own: the roster grouped by reason (R19), ID numbers
masked by the schemas whatever the data holds, the ledger's card and merchant on file, a long
list running over pages with its header on each, and the generic form's fields, groups and
tables with steps not reached yet."""

from datetime import UTC, date, datetime

from reports.pdf import Stamp, render
from reports.request_cards import (
    TEMPORARY_CARD,
    DelegateSchema,
    TerminationRosterSchema,
    card_on_file,
    roster_groups,
)
from reports.request_forms import generic_form
from reports.request_merchants import merchant_on_file
from tests.pdf_support import page_count, pdf_text

AT = datetime(2026, 11, 28, 1, 30, tzinfo=UTC)
STAMP = Stamp("LSK-20261128-0001", "http://card.example.edu.cn/instances/42", AT)
FACTS = {
    "business_key": "LSK-20261128-0001", "title": "临时卡申请", "process": "临时卡申请",
    "department": "信息科学与工程学院", "applicant": "部门秘书（信息学院）", "submitted_at": AT,
    "ended_at": None, "status": "审批中",
}  # fmt: skip
DECISION = {
    "step": "单位负责人审核", "decision": "同意", "actor": "王主任", "on_behalf_of": "李主任",
    "at": AT, "comment": "确系本院聘用",
}  # fmt: skip


def entry(card_no: str, reason: str, **more) -> dict:
    return {"card_no": card_no, "name": f"持卡人{card_no}", "reason": reason, **more}


def test_r19_the_roster_is_grouped_in_the_order_of_the_reasons_with_counts():
    entries = [
        entry("1001", "left"), entry("1002", "graduated"), entry("1003", "withdrawn"),
        entry("1004", "graduated"), entry("1005", "left"),
    ]  # fmt: skip
    groups = roster_groups(entries, excluded=["1004"])
    assert [(g["reason"], g["count"], g["excluded"]) for g in groups] == [
        ("毕业", 2, 1), ("退学", 1, 0), ("离职", 2, 0),
    ]  # fmt: skip
    assert [e["card_no"] for e in groups[0]["entries"]] == ["1002", "1004"]
    assert [e["excluded"] for e in groups[0]["entries"]] == [False, True]


def test_the_schemas_mask_every_id_number_they_print():
    roster = TerminationRosterSchema().dump({
        "facts": FACTS, "decisions": [], "excluded": [], "evidence": None, "note": "",
        "review": None, "result": None,
        "entries": [entry("1001", "deceased", id_number="110105197503120318")],
    })  # fmt: skip
    assert roster["groups"][0]["entries"][0]["id_number"] == "1101**********0318"
    assert roster["groups"][0]["reason"] == "死亡" and roster["total"]["ended"] == 1
    delegate = DelegateSchema().dump({
        "name": "王小明", "id_type": "passport", "id_number": "E12345678",
        "evidence": "holder_id",
    })  # fmt: skip
    assert delegate == {
        "name": "王小明", "id_type": "护照", "id_number": "E1*****78",
        "evidence": "持卡人有效证件", "evidence_ref": "",
    }  # fmt: skip


def test_the_card_and_the_merchant_on_file_come_from_the_ledger(make, db_session):
    card = make.card(name="吴俊杰", id_number="440106200112070813")
    assert card_on_file(db_session, card.card_no) == {
        "name": "吴俊杰", "id_type": "resident_id", "id_number": "440106200112070813",
        "card_type": "student", "state": "active",
    }  # fmt: skip
    merchant = make.merchant(name="学苑超市", commercial=True)
    terminal = make.terminal(merchant)
    found = merchant_on_file(db_session, merchant.code)
    assert (found["name"], found["commercial"], found["fee_rate"]) == ("学苑超市", True, 50)
    assert found["operator"] == merchant.operator_department.name_zh
    assert found["terminals"] == [
        {"code": terminal, "kind": "pos", "location": "第一食堂", "state": "active"}
    ]
    assert card_on_file(db_session, "000000") is None and merchant_on_file(db_session, "X") is None


def test_a_long_list_of_people_runs_over_pages_with_its_header_on_each():
    person = {
        "name": "马文博", "id_type": "resident_id", "id_number": "110108198506123015",
        "post": "项目研究助理", "phone": "13900001111", "work_from": date(2026, 11, 28),
        "work_until": date(2027, 5, 27), "outcome": "", "card_no": "", "expires_on": None,
    }  # fmt: skip
    data = {
        "facts": FACTS, "decisions": [DECISION], "people": [person] * 40, "reason": "科研项目",
        "fee": 2500, "certification": DECISION | {"certified": True}, "review": None,
    }  # fmt: skip
    pdf = render(TEMPORARY_CARD, data, STAMP)
    text, pages = pdf_text(pdf), page_count(pdf)
    with_people = [page for page in text.split("\f") if "马文博" in page]
    assert len(with_people) > 1 and all("证件类型及号码" in page for page in with_people)
    assert f"第{pages}页，共{pages}页" in text and text.count("LSK-20261128-0001") >= pages
    assert "申请人员（共 40 人）" in text and "110108198506123015" not in text
    assert "王主任（代 李主任 办理）" in text


def test_the_generic_form_prints_its_fields_groups_and_tables():
    data = {
        "facts": FACTS | {"ended_at": AT, "status": "已办结"}, "decisions": [],
        "signers": ["单位负责人审核", "卡务中心审核"],
        "data": [
            {"label": "临时卡卡号", "text": "5997937405"},
            {"label": "代办人", "children": [{"label": "姓名", "text": "王小明"}]},
            {"label": "终端", "columns": ["终端编号", "安装地点"], "rows": [["POS-1", "一层"]]},
        ],
    }  # fmt: skip
    pdf = render(generic_form("临时卡延期"), data, STAMP)
    text = pdf_text(pdf)
    for shown in (
        "临时卡延期申请表", "临时卡卡号", "5997937405", "姓名", "王小明", "终端编号", "POS-1",
        "尚无审批意见。", "单位负责人审核", "卡务中心审核", "申请人", "已办结", "2026-11-28 09:30",
    ):  # fmt: skip
        assert shown in text, shown
    assert page_count(pdf) == 1

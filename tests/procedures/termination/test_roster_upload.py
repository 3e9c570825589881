"""强制终止 forced termination (R19), before anything is ended: rosters uploaded as CSV
(UTF-8, BOM, GBK) or XLSX and checked row by row against the form and the ledger, the
filer's reasons, the start form's errors, and requests filed past the upload checked all the
same."""

import pytest

from ledger.check import check_ledger
from ledger.models.cards import CardState
from ledger.ops.closing import cancel_card
from tests.procedures.termination.conftest import (
    PROCESS,
    P,
    breach_request,
    csv_bytes,
    entry,
    instances_count,
    rows_of,
    state,
    upload,
    xlsx_bytes,
)
from workflows.errors import FormInvalid, NotAllowed
from workflows.models import InstanceStatus
from workflows.procedures.termination import RosterInvalid


@pytest.mark.parametrize(
    ("filename", "encode"),
    [
        ("毕业生.csv", lambda rows: csv_bytes(rows)),
        ("毕业生.csv", lambda rows: csv_bytes(rows, "utf-8-sig")),
        ("毕业生.csv", lambda rows: csv_bytes(rows, "gbk")),
        ("毕业生.xlsx", xlsx_bytes),
    ],
    ids=["utf8", "utf8-bom", "gbk", "xlsx"],
)
def test_r19_registrar_files_a_roster_file(desk, graduates, make, filename, encode):
    leaving = make.card(P.POSTGRADUATE)
    rows = rows_of((graduates[0], "graduated"), (graduates[1], "graduated"), (leaving, "withdrawn"))
    instance = upload(desk, "registrar", encode(rows), filename)
    assert instance.title == f"强制终止名单：{filename}（3 人）"
    assert desk.waiting_at(instance) == ["it_review"]
    data = desk.data(instance)
    assert [(e["card_no"], e["reason"]) for e in data["entries"]] == [
        (graduates[0].card_no, "graduated"),
        (graduates[1].card_no, "graduated"),
        (leaving.card_no, "withdrawn"),
    ]
    assert data["check"]["ok"] and data["check"]["reasons"] == {"graduated": 2, "withdrawn": 1}


def test_r19_roster_errors_are_reported_by_row_number_and_nothing_is_filed(
    desk, db_session, graduates, make
):
    staff, student = make.card(P.FACULTY), make.card(P.UNDERGRADUATE)
    rows = [
        *rows_of((graduates[0], "graduated")),  # row 2
        ("12345", "某某", "", "毕业"),  # row 3: not a card number
        *rows_of((graduates[1], "graduated")),  # row 4
        (student.card_no, "别人", "", "退休"),  # row 5: wrong name, unknown reason
        *rows_of((staff, "graduated")),  # row 6: graduation ends student cards only
    ]
    with pytest.raises(RosterInvalid) as raised:
        upload(desk, "registrar", csv_bytes(rows))
    errors = raised.value.errors
    assert sorted(errors) == [3, 5, 6]
    assert set(errors[3]) == {"card_no"} and set(errors[5]) == {"reason"}
    assert "不适用" in errors[6]["reason"][0]
    assert "第 3、5、6 行" in raised.value.message("zh")
    assert instances_count(db_session) == 0
    # The schema passes row 5 once the reason is known; the ledger finds the name wrong.
    rows[3] = (student.card_no, "别人", "", "退学")
    with pytest.raises(RosterInvalid) as raised:
        upload(desk, "registrar", csv_bytes(rows[3:4]))
    assert raised.value.errors == {2: {"name": ["姓名与持卡人不符 / the name is not the holder's"]}}


def test_r19_a_roster_with_many_bad_rows_names_twenty_of_them(desk, db_session):
    rows = [("12345", "某某", "", "毕业")] * 28  # rows 2 to 29: not card numbers
    with pytest.raises(RosterInvalid) as raised:
        upload(desk, "registrar", csv_bytes(rows), "毕业生.csv")
    assert sorted(raised.value.errors) == list(range(2, 30))
    listed = list(range(2, 22))
    assert raised.value.message("zh") == (
        "名单文件“毕业生.csv”有误，未提交任何内容：第 "
        + "、".join(map(str, listed))
        + " 行等，共 28 行"
    )
    assert raised.value.message("en").endswith(
        "rows " + ", ".join(map(str, listed)) + " (28 in all)"
    )
    assert instances_count(db_session) == 0


def test_r19_a_roster_names_the_reasons_its_filer_may_list(desk, db_session, graduates, make):
    staff = make.card(P.FACULTY)
    rows = rows_of((staff, "left"), (graduates[0], "graduated"))
    with pytest.raises(RosterInvalid) as raised:
        upload(desk, "hr", csv_bytes(rows))
    assert raised.value.errors == {
        3: {"reason": ["您无权申报“毕业” / you may not list 'graduated'"]}
    }
    with pytest.raises(NotAllowed):  # no filing role at all
        upload(desk, "approver", csv_bytes(rows[:1]), department=desk.hr_dept)
    assert instances_count(db_session) == 0


def test_r19_a_card_listed_twice_or_ended_already_is_refused(desk, graduates, make, ctx):
    cancelled = make.card(P.UNDERGRADUATE)
    cancel_card(ctx, cancelled.card_no)
    rows = rows_of(
        (graduates[0], "graduated"), (graduates[0], "graduated"), (cancelled, "graduated")
    )
    with pytest.raises(RosterInvalid) as raised:
        upload(desk, "registrar", csv_bytes(rows))
    assert raised.value.errors == {
        3: {"card_no": ["与第 2 行为同一持卡人，重复 / same holder as row 2"]},
        4: {"card_no": ["该卡状态为“已注销” / the card is cancelled"]},
    }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda data: data.pop("evidence"), "evidence"),
        (
            lambda data: data["entries"].append(dict(data["entries"][0], card_no="9999999")),
            "entries",
        ),
        (lambda data: data["entries"].clear(), "entries"),
        (lambda data: data["entries"][0].update(card_no="12AB"), "entries"),
        (lambda data: data["entries"][0].update(reason="retired"), "entries"),
        (lambda data: data["evidence"].update(document_ref=""), "evidence"),
    ],
    ids=["no-evidence", "two-people", "nobody", "card-no", "reason", "document"],
)
def test_r19_form_errors_are_named_by_field_and_nothing_is_filed(
    desk, db_session, make, change, field
):
    data = breach_request(make.card(P.FACULTY))
    change(data)
    with pytest.raises(FormInvalid) as raised:
        desk.start("clerk", PROCESS, data)
    assert set(raised.value.errors) == {field}
    assert " / " in str(raised.value.errors)  # both languages
    assert instances_count(db_session) == 0


def test_r19_a_request_filed_past_the_upload_is_checked_all_the_same(
    desk, db_session, graduates, make
):
    stolen = make.card(P.UNDERGRADUATE)
    data = {"entries": [entry(graduates[0], "graduated"), entry(stolen, "left", name="别人")]}
    instance = desk.start("hr", PROCESS, data, desk.hr_dept.id)
    assert instance.status == InstanceStatus.COMPLETED and desk.waiting_at(instance) == []
    problems = [p["zh"] for p in desk.data(instance)["check"]["problems"]]
    assert problems == [
        f"第 1 条（卡号 {graduates[0].card_no}）：您无权申报“毕业”",
        f"第 2 条（卡号 {stolen.card_no}）：“离职”不适用于此类卡",
        f"第 2 条（卡号 {stolen.card_no}）：姓名与持卡人不符",
    ]
    (told,) = [note for note in desk.notes("hr") if note.kind == "invalid"]
    assert "您无权申报“毕业”" in told.text_zh
    wrong_department = breach_request(stolen, department="NOPE")
    instance = desk.start("clerk", PROCESS, wrong_department)
    assert desk.data(instance)["check"]["problems"] == [
        {"zh": "确认单位 NOPE 不存在", "en": "no department NOPE"}
    ]
    assert [state(db_session, c) for c in (graduates[0], stolen)] == [CardState.ACTIVE] * 2
    assert check_ledger(db_session) == []

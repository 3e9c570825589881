"""强制终止 forced termination (R19) and the refund routes of R14, end to end through the
engine: rosters uploaded as CSV (UTF-8, BOM, GBK) or XLSX and checked row by row, the card
office's single case with evidence, the IT centre's review with exclusions, the bank refund
batch exported and confirmed by the settlement centre, rejections, returns, withdrawals; the
ledger checked afterwards."""

import csv
import io

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from ledger.check import check_ledger
from ledger.errors import InvalidInput
from ledger.models.accounts import AccountKind
from ledger.models.cards import Card, CardEvent, CardState
from ledger.models.money import Refund, RefundRoute, RefundState
from ledger.models.people import PersonCategory
from ledger.ops.cards import report_loss
from ledger.ops.closing import TerminationReason, cancel_card, pay_refund, terminate_card
from ledger.ops.reissue import reissue_card
from reports.refunds import bank_refund_batch_csv
from tests.ledger.helpers import system_balance
from workflows.errors import FormInvalid, NotAllowed
from workflows.models import InstanceStatus, ProcessInstance
from workflows.procedures.termination import RosterInvalid, file_roster

P = PersonCategory
PROCESS = "forced_termination"
HEADER = ("卡号", "姓名", "证件号码", "原因")
WORDS = {"graduated": "毕业", "withdrawn": "退学", "left": "离职"}


@pytest.fixture
def graduates(make):
    """Two graduates with balances and bank cards on file."""
    cards = [make.card(P.UNDERGRADUATE, balance=amount) for amount in (3456, 1200)]
    for n, card in enumerate(cards):
        card.account.bank_card_no = f"621700000000000{n:04d}"
    return cards


def rows_of(*pairs) -> list[tuple]:
    """Roster rows (card, reason) with the holder's name and ID number, reasons in Chinese."""
    return [
        (card.card_no, card.person.name, card.person.id_number, WORDS[reason])
        for card, reason in pairs
    ]


def csv_bytes(rows, encoding="utf-8", header=HEADER) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows([header, *rows])
    return out.getvalue().encode(encoding)


def xlsx_bytes(rows, header=HEADER) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in [header, *rows]:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(desk, who, content, filename="名单.csv", department=None):
    department = department or {"hr": desk.hr_dept, "registrar": desk.registrar_dept}[who]
    with desk._at():
        return file_roster(desk.env(desk.users[who]), filename, content, department.id)


def entry(card, reason, **kw) -> dict:
    return {"card_no": card.card_no, "name": card.person.name, "reason": reason} | kw


def breach_request(card, reason="breach", department="SEC") -> dict:
    evidence = {"confirming_department": department, "document_ref": "保卫处〔2026〕12号"}
    return {"entries": [entry(card, reason)], "evidence": evidence}


def state(db_session, card):
    db_session.refresh(card)
    return card.state


def refunds(db_session, *cards) -> list[Refund]:
    ids = [card.id for card in cards]
    return list(db_session.scalars(select(Refund).where(Refund.card_id.in_(ids))))


def instances_count(db_session) -> int:
    return db_session.scalar(select(func.count()).select_from(ProcessInstance))


# --- uploads ------------------------------------------------------------------------------------


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


# --- the IT centre's review and the refund routes -----------------------------------------------


def review(desk, instance, *excluded):
    """The IT centre approves; the worker carries the termination out."""
    desk.approve("it", instance, "it_review", excluded=[c.card_no for c in excluded])
    desk.later()


def confirm_batch(desk, instance, ref="BOC-2026-1127-01"):
    """The settlement centre confirms the batch; the worker pays it."""
    desk.act("settlement", instance, "bank_batch", bank_batch_ref=ref, confirmed=True)
    desk.later()


def test_r14_r19_graduates_refunds_go_to_the_bank_in_one_confirmed_batch(
    desk, db_session, ctx, graduates, make
):
    dropout = make.card(P.UNDERGRADUATE, balance=800)
    earlier = make.card(P.POSTGRADUATE, balance=500)  # a bank refund of another batch
    terminate_card(ctx, earlier.card_no, TerminationReason.GRADUATED)
    rows = rows_of((graduates[0], "graduated"), (graduates[1], "graduated"), (dropout, "withdrawn"))
    instance = upload(desk, "registrar", csv_bytes(rows))
    desk.approve("it", instance, "it_review", excluded=[])
    assert state(db_session, graduates[0]) == CardState.ACTIVE  # the worker carries it out
    assert desk.later() == 1
    assert [state(db_session, c) for c in (*graduates, dropout)] == [CardState.TERMINATED] * 3
    event = db_session.scalar(
        select(CardEvent).where(CardEvent.card_id == dropout.id).order_by(CardEvent.id.desc())
    )
    assert (event.actor, event.reason) == (f"user:{desk.users['it'].username}", "withdrawn")
    assert desk.waiting_at(instance) == ["bank_batch"]
    batch = desk.data(instance)["termination"]["bank_refund_ids"]
    assert desk.data(instance)["termination"]["refunds"]["bank"] == {"count": 2, "amount": 4656}

    lines = bank_refund_batch_csv(db_session, batch).lstrip("\ufeff").splitlines()
    table = list(csv.reader(lines))
    assert table[0][3:7] == ["姓名", "证件号码", "银行卡号", "金额（元）"]
    person = graduates[0].person
    assert table[1][3:7] == [person.name, person.masked_id, "6217000000000000000", "34.56"]
    assert table[2][6] == "12.00" and table[-1][6] == "46.56" and len(table) == 4

    bank_before = system_balance(db_session, AccountKind.BANK)
    confirm_batch(desk, instance)
    assert instance.status == InstanceStatus.COMPLETED
    assert system_balance(db_session, AccountKind.BANK) == bank_before + 4656  # paid out
    assert {(r.route, r.state) for r in refunds(db_session, *graduates)} == {
        (RefundRoute.BANK, RefundState.PAID)
    }
    (cash,) = refunds(db_session, dropout)
    assert (cash.route, cash.state, cash.amount) == (RefundRoute.CASH, RefundState.PENDING, 800)
    (other,) = refunds(db_session, earlier)
    assert other.state == RefundState.PENDING  # not of this batch
    assert desk.data(instance)["bank_refunds"]["bank_batch_ref"] == "BOC-2026-1127-01"
    assert check_ledger(db_session) == []


def test_r14_withdrawals_and_leavers_take_their_balance_in_cash_at_the_counter(
    desk, db_session, ctx, make
):
    dropout, leaver = make.card(P.UNDERGRADUATE, balance=900), make.card(P.FACULTY, balance=1500)
    cases = (("registrar", dropout, "withdrawn", 900), ("hr", leaver, "left", 1500))
    for who, card, reason, amount in cases:
        instance = upload(desk, who, xlsx_bytes(rows_of((card, reason))), "名单.xlsx")
        review(desk, instance)
        assert instance.status == InstanceStatus.COMPLETED  # no bank batch
        assert desk.data(instance)["termination"]["refunds"]["cash"]["amount"] == amount
        (refund,) = refunds(db_session, card)
        assert (refund.route, refund.state) == (RefundRoute.CASH, RefundState.PENDING)
        assert pay_refund(ctx, refund.id) == {"refund_id": refund.id, "paid_out": refund.amount}
    (told,) = [note for note in desk.notes("hr") if note.kind == "terminated"]
    assert "1 笔请本人到中油大厦A座105室领取现金" in told.text_zh
    assert check_ledger(db_session) == []


@pytest.mark.parametrize("reason", ["breach", "missing", "deceased"])
def test_r19_the_card_office_ends_one_card_with_evidence_and_keeps_the_balance(
    desk, db_session, ctx, make, reason
):
    make.department(code="SEC")
    card = make.card(P.FACULTY, balance=2000)
    instance = desk.start("clerk", PROCESS, breach_request(card, reason))
    review(desk, instance)
    assert instance.status == InstanceStatus.COMPLETED
    assert state(db_session, card) == CardState.TERMINATED
    (refund,) = refunds(db_session, card)
    assert (refund.route, refund.state, refund.amount) == (
        RefundRoute.CLAIMANT,
        RefundState.PENDING,
        2000,
    )
    with pytest.raises(InvalidInput):  # frozen until a lawful claimant is recorded
        pay_refund(ctx, refund.id)
    claimant = {"name": "赵六", "id_number": "110105196504045678"}
    assert pay_refund(ctx, refund.id, claimant=claimant)["paid_out"] == 2000
    assert check_ledger(db_session) == []


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


def test_r19_the_it_centre_spares_whom_it_excludes(desk, db_session, graduates, make):
    rows = rows_of((graduates[0], "graduated"), (graduates[1], "graduated"))
    instance = upload(desk, "registrar", csv_bytes(rows))
    review(desk, instance, graduates[1])
    assert state(db_session, graduates[0]) == CardState.TERMINATED
    assert state(db_session, graduates[1]) == CardState.ACTIVE
    assert refunds(db_session, graduates[1]) == []
    assert desk.data(instance)["termination"]["bank_refund_ids"] == [
        r.id for r in refunds(db_session, graduates[0])
    ]
    assert check_ledger(db_session) == []


def test_r19_exclusions_off_the_roster_send_the_review_back(desk, db_session, graduates, make):
    outsider = make.card(P.UNDERGRADUATE)
    instance = upload(desk, "registrar", csv_bytes(rows_of((graduates[0], "graduated"))))
    review(desk, instance, outsider)  # a typo would end someone else's card
    assert desk.waiting_at(instance) == ["it_review"]
    (told,) = [note for note in desk.notes("it") if note.kind == "invalid"]
    assert outsider.card_no in told.text_zh
    review(desk, instance, graduates[0])  # everyone spared: that is a rejection
    assert desk.waiting_at(instance) == ["it_review"]
    assert "请驳回" in desk.data(instance)["exclusions"]["problems"][0]["zh"]
    assert [state(db_session, c) for c in (graduates[0], outsider)] == [CardState.ACTIVE] * 2
    review(desk, instance)
    assert state(db_session, graduates[0]) == CardState.TERMINATED


def test_r19_the_it_centre_rejects(desk, db_session, graduates):
    instance = upload(desk, "registrar", csv_bytes(rows_of((graduates[0], "graduated"))))
    desk.reject("it", instance, "it_review", comment="名单未经学院确认")
    assert instance.status == InstanceStatus.COMPLETED
    assert "termination" not in desk.data(instance)
    assert state(db_session, graduates[0]) == CardState.ACTIVE
    assert [note.kind for note in desk.notes("registrar")][-1] == "decision"
    assert check_ledger(db_session) == []


def test_r19_returned_to_the_filer_and_resubmitted(desk, db_session, graduates, make):
    rows = rows_of((graduates[0], "graduated"), (graduates[1], "graduated"))
    instance = upload(desk, "registrar", csv_bytes(rows))
    desk.send_back("it", instance, "it_review", reason="第二人尚未离校")
    assert instance.status == InstanceStatus.RETURNED
    first = desk.data(instance)["entries"][0]
    desk.resubmit("registrar", instance, {"entries": [first]})
    assert desk.waiting_at(instance) == ["it_review"]
    review(desk, instance)
    assert state(db_session, graduates[0]) == CardState.TERMINATED
    assert state(db_session, graduates[1]) == CardState.ACTIVE
    assert check_ledger(db_session) == []


def test_r19_withdrawn_before_termination_but_not_after(desk, db_session, graduates):
    first = upload(desk, "registrar", csv_bytes(rows_of((graduates[0], "graduated"))))
    desk.withdraw("registrar", first)
    assert first.status == InstanceStatus.WITHDRAWN
    assert state(db_session, graduates[0]) == CardState.ACTIVE
    second = upload(desk, "registrar", csv_bytes(rows_of((graduates[1], "graduated"))), "2.csv")
    review(desk, second)
    assert desk.waiting_at(second) == ["bank_batch"]
    with pytest.raises(NotAllowed):
        desk.withdraw("registrar", second)
    with pytest.raises(NotAllowed):  # nor returned across the termination
        desk.send_back("settlement", second, "bank_batch")
    assert second.status == InstanceStatus.RUNNING
    assert check_ledger(db_session) == []


def test_r19_cards_changed_meanwhile(desk, db_session, ctx, make):
    """Between filing and approval: a reissued card is ended as its new card (same account),
    a lost card is ended, a card cancelled at the counter is skipped."""
    reissued, lost, cancelled = (make.card(P.FACULTY, balance=3000) for _ in range(3))
    rows = rows_of((reissued, "left"), (lost, "left"), (cancelled, "left"))
    instance = upload(desk, "hr", csv_bytes(rows))
    new_no = reissue_card(ctx, reissued.card_no, new_card_no="8800000001")["card_no"]
    report_loss(ctx, lost.card_no, "counter")
    cancel_card(ctx, cancelled.card_no)
    review(desk, instance)
    result = desk.data(instance)["termination"]
    assert result["terminated"] == 2
    assert result["skipped"] == [{"card_no": cancelled.card_no, "state": "cancelled"}]
    assert result["refunds"]["cash"] == {"count": 2, "amount": 6000}  # the fee paid in cash
    assert state(db_session, lost) == CardState.TERMINATED
    assert state(db_session, reissued) == CardState.REPLACED
    new = db_session.scalar(select(Card).where(Card.card_no == new_no))
    assert new.state == CardState.TERMINATED and refunds(db_session, new)[0].amount == 3000
    assert check_ledger(db_session) == []


def test_r14_a_graduate_without_a_bank_card_waits_outside_the_batch(
    desk, db_session, graduates, make
):
    no_bank = make.card(P.UNDERGRADUATE, balance=700)
    rows = rows_of((no_bank, "graduated"), (graduates[0], "graduated"))
    instance = upload(desk, "registrar", csv_bytes(rows))
    review(desk, instance)
    result = desk.data(instance)["termination"]
    (held,) = refunds(db_session, no_bank)
    assert result["bank_refunds_without_card"] == [held.id]
    assert held.id not in result["bank_refund_ids"]
    with pytest.raises(FormInvalid) as raised:
        desk.act("settlement", instance, "bank_batch", bank_batch_ref="B1", confirmed=False)
    assert set(raised.value.errors) == {"confirmed"}
    confirm_batch(desk, instance)
    assert held.state == RefundState.PENDING
    assert check_ledger(db_session) == []
    alone = upload(desk, "registrar", csv_bytes(rows_of((make.card(P.UNDERGRADUATE), "graduated"))))
    review(desk, alone)  # no balance, no refund: no batch
    assert alone.status == InstanceStatus.COMPLETED


def test_r14_the_batch_file_is_safe_to_open_in_a_spreadsheet(db_session, ctx, make):
    card = make.card(P.UNDERGRADUATE, balance=100, name="=HYPERLINK(1)")
    refund_id = terminate_card(ctx, card.card_no, TerminationReason.GRADUATED)["refund_id"]
    table = list(csv.reader(bank_refund_batch_csv(db_session, [refund_id]).splitlines()))
    assert table[1][3] == "'=HYPERLINK(1)" and table[1][5] == ""  # no bank card on file
    assert table[1][7] == "待退款" and table[-1][3] == "1 笔"

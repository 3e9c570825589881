"""强制终止 forced termination (R19) and the refund routes of R14, end to end through the
engine: the IT centre's review with exclusions, the card office's single case with evidence,
the bank refund batch exported and confirmed by the settlement centre, graduates without a
bank card paid at the counter, rejections, returns, withdrawals; the ledger checked
afterwards."""

import csv

import pytest
from sqlalchemy import select

from ledger.check import check_ledger
from ledger.errors import Conflict, InvalidInput, NotFound
from ledger.models.accounts import AccountKind
from ledger.models.cards import Card, CardEvent, CardState
from ledger.models.money import RefundRoute, RefundState
from ledger.ops.cards import report_loss
from ledger.ops.closing import (
    TerminationReason,
    cancel_card,
    pay_bank_refunds,
    pay_refund,
    terminate_card,
)
from ledger.ops.reissue import reissue_card
from reports.refunds import bank_refund_batch_csv
from tests.ledger.helpers import system_balance
from tests.procedures.termination.conftest import (
    PROCESS,
    P,
    breach_request,
    confirm_batch,
    csv_bytes,
    refunds,
    review,
    rows_of,
    state,
    upload,
    xlsx_bytes,
)
from workflows.errors import FormInvalid, NotAllowed
from workflows.models import Incident, InstanceStatus
from workflows.procedures.termination import bank_refund_ids


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
    assert "1 笔（退学、离职）和 0 笔（毕业生未登记银行卡）请本人到中油大厦A座105室领取现金" in (
        told.text_zh
    )
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


def test_r14_a_graduate_without_a_bank_card_is_paid_in_cash_at_the_counter(
    desk, db_session, ctx, graduates, make
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
    (told,) = [note for note in desk.notes("registrar") if note.kind == "terminated"]
    assert "0 笔（退学、离职）和 1 笔（毕业生未登记银行卡）请本人到中油大厦A座105室领取现金" in (
        told.text_zh
    )
    assert "1 (graduates with no bank card on file) are paid in cash at the counter" in (
        told.text_en
    )
    confirm_batch(desk, instance)
    assert held.state == RefundState.PENDING  # not in the batch: the bank cannot reach it
    cash_before = system_balance(db_session, AccountKind.CASH)
    assert pay_refund(ctx, held.id) == {"refund_id": held.id, "paid_out": 700}
    assert held.paid_to == {"to": "holder", "note": "no bank card on file"}
    assert system_balance(db_session, AccountKind.CASH) == cash_before + 700
    with pytest.raises(Conflict):  # a holder with a bank card on file waits for the bank
        pay_refund(ctx, terminate_card(ctx, graduates[1].card_no, "graduated")["refund_id"])
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


def test_r14_a_batch_that_disagrees_with_the_ledger_pays_nothing_and_leaves_an_incident(
    desk, db_session, ctx, graduates
):
    """A refund of the batch paid meanwhile (by the daily job): the batch the settlement
    centre sent to the bank no longer matches the ledger, so none of it is paid."""
    rows = rows_of((graduates[0], "graduated"), (graduates[1], "graduated"))
    instance = upload(desk, "registrar", csv_bytes(rows))
    review(desk, instance)
    batch = desk.data(instance)["termination"]["bank_refund_ids"]
    pay_bank_refunds(ctx)
    bank_before = system_balance(db_session, AccountKind.BANK)
    confirm_batch(desk, instance)
    assert instance.status == InstanceStatus.INCIDENT
    (incident,) = db_session.scalars(select(Incident).where(Incident.instance_id == instance.id))
    assert incident.task_name == "pay_bank"
    assert f"已支付的退款 {batch[0]}、{batch[1]}（共 2 笔）" in incident.error
    assert system_balance(db_session, AccountKind.BANK) == bank_before  # nothing paid twice
    assert [note.kind for note in desk.notes("registrar")].count("refunded") == 0
    assert check_ledger(db_session) == []


def test_r14_the_bank_batch_of_a_termination_request(desk, db_session, graduates, make):
    rows = rows_of((graduates[1], "graduated"), (graduates[0], "graduated"))
    instance = upload(desk, "registrar", csv_bytes(rows))
    env = desk.env(None)
    with pytest.raises(NotFound):  # nothing ended yet
        bank_refund_ids(env, instance.id)
    review(desk, instance)
    ids = sorted(r.id for r in refunds(db_session, *graduates))
    assert bank_refund_ids(env, instance.id) == ids
    confirm_batch(desk, instance)
    assert bank_refund_ids(env, instance.id) == ids  # still, once paid
    with pytest.raises(NotFound):
        bank_refund_ids(env, 424242)
    instance.process_id = "card_reissue"  # any other process: its data are not a batch
    with pytest.raises(NotFound):
        bank_refund_ids(env, instance.id)

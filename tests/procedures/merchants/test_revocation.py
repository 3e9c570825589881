"""商户撤销 (R24), end to end through the engine, the ledger checked afterwards: the wait
until the account is settled to zero, every rejection, return, withdrawal and check failure,
the reminder, and form validation."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from ledger.check import check_ledger
from ledger.models.merchants import OpenState, Settlement, TerminalKind
from ledger.ops.merchants import (
    find_merchant,
    register_terminal,
)
from ledger.ops.metering import pre_deduct, settle_hold
from ledger.ops.money import purchase
from ledger.ops.settlement import settle_merchant
from tests.procedures.merchants.conftest import (
    REVOCATION,
    apply,
    approve_closing,
    ended_at,
    revoke,
    terminal,
    told,
)
from workflows import instances, runtime
from workflows.errors import FormInvalid, NotAllowed
from workflows.models import InstanceStatus, ProcessInstance


def test_r24_revocation_waits_until_the_account_is_settled_to_zero(
    desk, home, canteen, ctx, at, make, db_session
):
    card = make.card(balance=5000)
    purchase(ctx, card.card_no, "POS-1-01", 1500)
    instance = revoke(desk, home)
    assert desk.waiting_at(instance) == ["settle_review"]

    desk.approve("settlement", instance, "settle_review")  # today's takings: settled tomorrow
    assert desk.waiting_at(instance) == ["settle_review"]
    assert desk.data(instance)["settlement"] | {"settled": None} == {
        "settled": None, "remaining": 1500, "remaining_yuan": "15.00", "open_holds": 0,
        "zero": False,
    }  # fmt: skip

    desk.later(days=1)
    desk.approve("settlement", instance, "settle_review")
    assert desk.data(instance)["settlement"]["settled"]["payout"] == 1500
    assert desk.waiting_at(instance) == ["supervising_review"]
    approve_closing(desk, instance)

    assert instance.status == InstanceStatus.COMPLETED and ended_at(desk, instance) == ["done"]
    later = at(desk.now)
    closed = find_merchant(later, "CANTEEN1")
    assert (closed.state, terminal(db_session, "POS-1-01").state) == (OpenState.CLOSED,) * 2
    with pytest.raises(NotAllowed):
        purchase(later, card.card_no, "POS-1-01", 100)
    assert any("已撤销" in text for text in told(desk, "applicant", "done"))
    assert check_ledger(db_session) == []


def test_r24_a_merchant_with_nothing_to_settle_goes_on_at_once(desk, home, canteen, db_session):
    instance = revoke(desk, home)
    desk.approve("settlement", instance, "settle_review")
    approve_closing(desk, instance)
    assert find_merchant(desk.env(None).ledger_ctx(), "CANTEEN1").state == OpenState.CLOSED
    assert db_session.scalar(select(func.count(Settlement.id))) == 0  # nothing was due


def test_r24_an_open_pre_deduction_keeps_the_request_waiting(
    desk, home, canteen, ctx, at, make, db_session
):
    register_terminal(ctx, "CANTEEN1", "WATER-1-01", TerminalKind.WATER, "第一食堂开水间")
    card = make.card(balance=5000)
    pre_deduct(ctx, card.card_no, "WATER-1-01", 500)
    instance = revoke(desk, home)
    desk.approve("settlement", instance, "settle_review")
    assert desk.data(instance)["settlement"]["open_holds"] == 1
    settle_hold(ctx, card.card_no, "WATER-1-01", 200)
    desk.later(days=1)
    desk.approve("settlement", instance, "settle_review")
    approve_closing(desk, instance)
    assert find_merchant(at(desk.now), "CANTEEN1").state == OpenState.CLOSED
    assert check_ledger(db_session) == []


def test_r24_the_settlement_centre_is_reminded_after_a_week(desk, home, canteen, ctx, make):
    purchase(ctx, make.card(balance=5000).card_no, "POS-1-01", 1500)
    instance = revoke(desk, home)
    (row,) = desk.open_tasks(instance)
    assert row.due_at is not None
    desk.later(days=7)
    assert told(desk, "settlement", "overdue")
    assert desk.waiting_at(instance) == ["settle_review"]


@pytest.mark.parametrize(
    ("who", "step"),
    [("settlement", "settle_review"), ("overseer", "supervising_review"), ("it", "it_confirm")],
)
def test_r24_a_rejection_leaves_the_merchant_open(desk, home, canteen, ctx, make, who, step):
    instance = revoke(desk, home)
    if step != "settle_review":
        desk.approve("settlement", instance, "settle_review")
    if step == "it_confirm":
        desk.approve("overseer", instance, "supervising_review")
    desk.reject(who, instance, step, comment="尚有未了结的合同")
    assert instance.status == InstanceStatus.COMPLETED
    assert ended_at(desk, instance) == [
        {"settle_review": "settle_rejected", "supervising_review": "supervising_rejected",
         "it_confirm": "it_rejected"}[step]
    ]  # fmt: skip
    assert find_merchant(ctx, "CANTEEN1").state == OpenState.ACTIVE
    purchase(ctx, make.card(balance=1000).card_no, "POS-1-01", 100)
    assert any("驳回" in text for text in told(desk, "applicant", "decision"))


@pytest.mark.parametrize(
    ("code", "problem"),
    [("NOSUCH", "不存在"), ("OTHER1", "不是本单位经营的"), ("CLOSED1", "已撤销")],
)
def test_r24_a_request_the_check_refuses_ends_invalid(desk, home, others, code, problem):
    instance = revoke(desk, home, code)
    assert ended_at(desk, instance) == ["invalid"] and desk.waiting_at(instance) == []
    assert problem in told(desk, "applicant", "invalid")[0]


def test_r24_withdrawn_before_anything_is_settled(desk, home, canteen, ctx):
    instance = revoke(desk, home)
    desk.withdraw("applicant", instance)
    assert instance.status == InstanceStatus.WITHDRAWN
    assert find_merchant(ctx, "CANTEEN1").state == OpenState.ACTIVE


def test_r24_once_settled_the_request_is_neither_withdrawn_nor_returned(
    desk, home, canteen, ctx, make
):
    purchase(ctx, make.card(balance=5000).card_no, "POS-1-01", 1500)
    instance = revoke(desk, home)
    desk.later(days=1)
    desk.approve("settlement", instance, "settle_review")  # settles: carried out
    with pytest.raises(NotAllowed):
        desk.withdraw("applicant", instance)
    with pytest.raises(NotAllowed):
        desk.send_back("overseer", instance, "supervising_review")
    assert desk.waiting_at(instance) == ["supervising_review"]


def test_r24_returned_before_settlement_and_resubmitted(desk, home, canteen, ctx):
    instance = revoke(desk, home)
    desk.send_back("settlement", instance, "settle_review", reason="请附合同终止证明")
    desk.resubmit("applicant", instance, {"merchant_code": "CANTEEN1", "reason": "合同终止"})
    desk.approve("settlement", instance, "settle_review")
    approve_closing(desk, instance)
    assert find_merchant(ctx, "CANTEEN1").state == OpenState.CLOSED


def test_r24_takings_after_the_settlement_are_an_incident_until_settled_again(
    desk, home, canteen, ctx, at, make, db_session
):
    """The merchant kept selling after it was settled to zero: the ledger refuses to close
    it; once the settlement centre has settled again, the administrator's retry closes it."""
    instance = revoke(desk, home)
    desk.approve("settlement", instance, "settle_review")
    desk.approve("overseer", instance, "supervising_review")
    purchase(ctx, make.card(balance=5000).card_no, "POS-1-01", 700)
    desk.approve("it", instance, "it_confirm")
    assert instance.status == InstanceStatus.INCIDENT
    assert find_merchant(ctx, "CANTEEN1").state == OpenState.ACTIVE

    desk.now += timedelta(days=1)
    settle_merchant(at(desk.now), "CANTEEN1")
    incident = runtime.open_incident_of(db_session, instance.id)
    with desk._at():
        instances.retry_incident(desk.env(desk.users["admin"]), incident.id)
    assert instance.status == InstanceStatus.COMPLETED
    assert find_merchant(at(desk.now), "CANTEEN1").state == OpenState.CLOSED
    assert check_ledger(db_session) == []


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"merchant_code": "CANTEEN1"}, "reason"),
        ({"merchant_code": "CANTEEN1", "reason": ""}, "reason"),
        ({"merchant_code": "食堂", "reason": "承包期满"}, "merchant_code"),
        ({"reason": "承包期满"}, "merchant_code"),
    ],
)
def test_r24_a_bad_field_is_reported_and_nothing_is_filed(desk, home, db_session, data, field):
    with pytest.raises(FormInvalid) as refused:
        apply(desk, home, data, REVOCATION)
    assert list(refused.value.errors) == [field]
    assert all(" / " in message for message in refused.value.errors[field])
    assert db_session.scalar(select(func.count(ProcessInstance.id))) == 0

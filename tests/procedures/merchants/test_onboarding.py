"""商户接入 (R23, R11), end to end through the engine, the ledger checked afterwards: a new
merchant (commercial or not, R11's 0.5%), terminals added or moved, the settlement centre's
steps, every rejection, return, withdrawal, check failure and race, and form validation."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from ledger.check import check_ledger
from ledger.models.merchants import Merchant, OpenState, Terminal, TerminalKind
from ledger.ops.merchants import (
    find_merchant,
    register_terminal,
)
from ledger.ops.money import purchase
from ledger.ops.settlement import settle_merchant
from tests.procedures.merchants.conftest import (
    apply,
    ended_at,
    messages,
    new_merchant,
    terminal,
    through_settlement,
    told,
)
from workflows.errors import FormInvalid, NotAllowed, WrongInstanceState
from workflows.models import InstanceStatus, ProcessInstance


@pytest.mark.parametrize(
    ("commercial", "extra", "rate", "days"),
    [(False, {}, 0, 7), (True, {}, 50, 7), (True, {"settlement_days": 14}, 50, 14)],
)
def test_r23_r11_a_new_merchant_is_admitted_with_its_terminals_and_fee_terms(
    desk, home, overseer, ctx, at, make, db_session, commercial, extra, rate, days
):
    terminals = [
        {"code": "pos-s-01", "kind": "pos", "location": "学苑楼一层收银台"},
        {"code": "WATER-S-01", "kind": "water", "location": "学苑楼一层开水间"},
    ]
    data = new_merchant(overseer, commercial=commercial, terminals=terminals, **extra)
    instance = apply(desk, home, data)
    assert desk.waiting_at(instance) == ["supervising_review"]
    through_settlement(desk, instance, commercial)
    assert desk.waiting_at(instance) == ["office_review"]
    desk.approve("clerk", instance, "office_review")

    assert instance.status == InstanceStatus.COMPLETED and ended_at(desk, instance) == ["done"]
    shop = find_merchant(ctx, "SHOP1")
    assert (shop.name, shop.category, shop.location, shop.state) == (
        "学苑超市", "shop", "学苑楼一层", OpenState.ACTIVE,
    )  # fmt: skip
    assert (shop.operator_department_id, shop.supervising_department_id) == (home.id, overseer.id)
    assert (shop.commercial, shop.fee_rate_bp, shop.settlement_days) == (commercial, rate, days)
    assert shop.settlement_account == "6216-0001-0002"
    placed = {t.code: (t.merchant_id, t.kind, t.location) for t in db_session.scalars(
        select(Terminal).where(Terminal.merchant_id == shop.id))}  # fmt: skip
    assert placed == {
        "POS-S-01": (shop.id, TerminalKind.POS, "学苑楼一层收银台"),
        "WATER-S-01": (shop.id, TerminalKind.WATER, "学苑楼一层开水间"),
    }
    assert any("SHOP1" in text for text in told(desk, "applicant", "done"))

    card = make.card(balance=20_000)
    purchase(ctx, card.card_no, "POS-S-01", 4000)  # the terminal works at once
    settled = settle_merchant(at(ctx.now + timedelta(days=days + 1)), "SHOP1")
    assert (settled["turnover"], settled["fee"]) == (4000, 4000 * rate // 10_000)
    assert check_ledger(db_session) == []


def test_r23_the_supervising_task_is_for_the_supervising_department_only(desk, home, overseer):
    instance = apply(desk, home, new_merchant(overseer))
    (row,) = desk.open_tasks(instance)
    assert (row.candidate_role, row.candidate_department_id) == ("supervising_dept", overseer.id)
    with pytest.raises(NotAllowed):
        desk.approve("supervisor", instance, "supervising_review")  # the operating unit's
    assert desk.waiting_at(instance) == ["supervising_review"]


@pytest.mark.parametrize(
    ("data", "code", "place"),
    [
        ({"kind": "add_terminals", "terminals": [{"code": "pos-1-02", "location": "二楼"}]},
         "POS-1-02", "二楼"),
        ({"kind": "move_terminals", "moves": [{"terminal_code": "POS-1-01", "location": "三楼"}]},
         "POS-1-01", "三楼"),
    ],
)  # fmt: skip
def test_r23_terminals_added_or_moved_work_at_their_approved_place(
    desk, home, canteen, ctx, make, db_session, data, code, place
):
    """Without the settlement centre: the merchant's supervising department approves, then
    the card office; nothing changes before."""
    instance = apply(desk, home, data | {"merchant_code": "CANTEEN1"})
    desk.approve("overseer", instance, "supervising_review")  # the merchant's supervisor
    assert desk.waiting_at(instance) == ["office_review"]
    assert getattr(terminal(db_session, code), "location", None) != place
    desk.approve("clerk", instance, "office_review")
    placed = terminal(db_session, code)
    assert (placed.merchant_id, placed.kind, placed.location) == (canteen.id, "pos", place)
    purchase(ctx, make.card(balance=1000).card_no, code, 300)
    assert check_ledger(db_session) == []


@pytest.mark.parametrize(
    ("who", "step"),
    [
        ("overseer", "supervising_review"),
        ("settlement", "account_review"),
        ("settlement", "agreement"),
        ("clerk", "office_review"),
    ],
)
def test_r23_a_rejection_ends_the_application_and_tells_the_applicant(
    desk, home, overseer, db_session, who, step
):
    instance = apply(desk, home, new_merchant(overseer, commercial=True))
    while desk.waiting_at(instance) != [step]:
        (current,) = desk.waiting_at(instance)
        through = {
            "supervising_review": ("overseer", {}),
            "account_review": ("settlement", {"account_confirmed": True}),
            "agreement": ("settlement", {"agreement_signed": True, "agreement_no": "XY-1"}),
        }[current]
        desk.approve(through[0], instance, current, **through[1])
    desk.reject(who, instance, step, comment="经营地点不符合规划")
    assert instance.status == InstanceStatus.COMPLETED
    assert ended_at(desk, instance) == [
        {"supervising_review": "supervising_rejected", "account_review": "account_rejected",
         "agreement": "agreement_rejected", "office_review": "office_rejected"}[step]
    ]  # fmt: skip
    assert db_session.scalar(select(Merchant).where(Merchant.code == "SHOP1")) is None
    assert terminal(db_session, "POS-S-01") is None
    assert any("驳回" in text for text in told(desk, "applicant", "decision"))


@pytest.mark.parametrize(
    ("step", "data", "field"),
    [
        ("account_review", {"decision": "approve"}, "account_confirmed"),
        ("agreement", {"decision": "approve", "agreement_no": "XY-1"}, "agreement_signed"),
        ("agreement", {"decision": "approve", "agreement_signed": True}, "agreement_no"),
        ("agreement", {"decision": "reject"}, "comment"),
    ],
)
def test_r23_the_settlement_centre_confirms_before_approving(
    desk, home, overseer, step, data, field
):
    instance = apply(desk, home, new_merchant(overseer, commercial=True))
    desk.approve("overseer", instance, "supervising_review")
    if step == "agreement":
        desk.approve("settlement", instance, "account_review", account_confirmed=True)
    with pytest.raises(FormInvalid) as refused:
        desk.act("settlement", instance, step, **data)
    assert list(refused.value.errors) == [field]
    assert " / " in refused.value.errors[field][0]
    assert desk.waiting_at(instance) == [step]


def test_r23_returned_to_the_applicant_and_resubmitted(desk, home, overseer, ctx, db_session):
    instance = apply(desk, home, new_merchant(overseer, location="待定"))
    desk.send_back("overseer", instance, "supervising_review", reason="请写明经营地点")
    assert instance.status == InstanceStatus.RETURNED
    desk.resubmit("applicant", instance, new_merchant(overseer, location="学苑楼二层"))
    through_settlement(desk, instance)
    desk.approve("clerk", instance, "office_review")
    assert find_merchant(ctx, "SHOP1").location == "学苑楼二层"
    assert check_ledger(db_session) == []


def test_r23_withdrawn_before_the_merchant_is_admitted(desk, home, overseer, db_session):
    instance = apply(desk, home, new_merchant(overseer))
    through_settlement(desk, instance)
    desk.withdraw("applicant", instance)
    assert instance.status == InstanceStatus.WITHDRAWN and desk.waiting_at(instance) == []
    assert db_session.scalar(select(Merchant).where(Merchant.code == "SHOP1")) is None


def test_r23_once_admitted_the_application_cannot_be_withdrawn(desk, home, overseer, ctx):
    instance = apply(desk, home, new_merchant(overseer))
    through_settlement(desk, instance)
    desk.approve("clerk", instance, "office_review")
    with pytest.raises(WrongInstanceState):
        desk.withdraw("applicant", instance)
    assert find_merchant(ctx, "SHOP1").state == OpenState.ACTIVE


def test_r23_a_terminal_code_taken_meanwhile_is_an_incident_and_nothing_is_half_done(
    desk, home, overseer, canteen, ctx, db_session
):
    """The check passed at filing; the second terminal's code was registered elsewhere
    before the card office approved: the ledger refuses it, and the merchant admitted and
    the first terminal registered in the same step roll back; an administrator decides."""
    terminals = [{"code": "POS-S-01", "location": "甲"}, {"code": "POS-S-02", "location": "乙"}]
    instance = apply(desk, home, new_merchant(overseer, terminals=terminals))
    through_settlement(desk, instance)
    register_terminal(ctx, "CANTEEN1", "POS-S-02", TerminalKind.POS, "第一食堂")
    desk.approve("clerk", instance, "office_review")
    assert instance.status == InstanceStatus.INCIDENT
    assert db_session.scalar(select(Merchant).where(Merchant.code == "SHOP1")) is None
    assert terminal(db_session, "POS-S-01") is None
    assert terminal(db_session, "POS-S-02").merchant_id == canteen.id
    assert check_ledger(db_session) == []


ADD = {"kind": "add_terminals", "terminals": [{"code": "POS-NEW", "location": "二楼"}]}
MOVE = {"kind": "move_terminals", "merchant_code": "CANTEEN1"}


@pytest.mark.parametrize(
    ("new", "data", "problem"),
    [
        ({"code": "CANTEEN1"}, {}, "已被使用"),
        ({"terminals": [{"code": "POS-1-01", "location": "一楼"}]}, {}, "已登记"),
        ({"supervising_department_id": 999_999}, {}, "主管部门不存在"),
        (None, ADD | {"merchant_code": "NOSUCH"}, "不存在"),
        (None, ADD | {"merchant_code": "OTHER1"}, "不是本单位经营的"),
        (None, ADD | {"merchant_code": "CLOSED1"}, "已撤销"),
        (None, MOVE | {"moves": [{"terminal_code": "POS-X-01", "location": "三楼"}]}, "不属于"),
        (None, MOVE | {"moves": [{"terminal_code": "POS-1-01", "location": "第一食堂一楼"}]},
         "已在该地点"),
    ],
)  # fmt: skip
def test_r23_an_application_the_check_refuses_ends_invalid(
    desk, home, overseer, others, db_session, new, data, problem
):
    instance = apply(desk, home, new_merchant(overseer, **new) if new is not None else data)
    assert instance.status == InstanceStatus.COMPLETED and desk.waiting_at(instance) == []
    assert ended_at(desk, instance) == ["invalid"]
    (text,) = told(desk, "applicant", "invalid")
    assert problem in text
    assert terminal(db_session, "POS-NEW") is None
    assert terminal(db_session, "POS-1-01").location == "第一食堂一楼"


T1 = {"code": "T-1", "location": "一楼"}


@pytest.mark.parametrize(
    ("top", "details", "field"),
    [
        ({"kind": "close"}, {}, "kind"),
        ({"merchant_code": "商户一"}, {}, "merchant_code"),
        ({"merchant": None}, {}, "merchant"),
        ({}, {"category": "bar"}, "merchant"),
        ({}, {"settlement_account": "x"}, "merchant"),
        ({}, {"settlement_days": 0}, "merchant"),
        ({}, {"commercial": "vielleicht"}, "merchant"),
        ({"terminals": []}, {}, "terminals"),
        ({"terminals": [T1 | {"kind": "atm"}]}, {}, "terminals"),
        ({"terminals": [T1, T1]}, {}, "terminals"),
        ({"moves": [{"terminal_code": "T-1", "location": "一楼"}]}, {}, "moves"),
        ({"kind": "add_terminals"}, {}, "merchant"),
        ({"kind": "move_terminals", "merchant": None, "terminals": []}, {}, "moves"),
    ],
)  # fmt: skip
def test_r23_a_bad_field_is_reported_and_nothing_is_filed(
    desk, home, overseer, db_session, top, details, field
):
    data = new_merchant(overseer, **details)
    with pytest.raises(FormInvalid) as refused:
        apply(desk, home, data | top)
    assert field in refused.value.errors
    assert all(" / " in message for message in messages(refused.value.errors))
    assert db_session.scalar(select(func.count(ProcessInstance.id))) == 0

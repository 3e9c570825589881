"""补办校园卡 (card_reissue: R03, R15-R17), end to end through `workflows`: filed at the
counter or in advance by the department, checked, decided at the counter and carried out in
the ledger, whose journal is checked after each path."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from ledger.check import check_ledger
from ledger.errors import NotAllowed, TransitionNotAllowed
from ledger.models.accounts import AccountKind
from ledger.models.cards import CardState, Channel, Delegation
from ledger.models.journal import EntryKind
from ledger.models.merchants import MerchantCategory
from ledger.models.people import PersonCategory
from ledger.ops.cards import unfreeze_card
from ledger.ops.closing import cancel_card
from ledger.ops.money import purchase
from tests.conftest import NOW
from tests.ledger.helpers import card_by_no, entries, last_event, snapshot, system_balance
from tests.procedures.cards.conftest import (
    CARD_DETAILS,
    at_path,
    delegate,
    ended_at,
    started,
    told,
)
from tests.procedures.conftest import BPMN_DIR, resident_id
from workflows.deploy import deploy_sources
from workflows.errors import FormInvalid, WrongInstanceState
from workflows.models import InstanceStatus

P = PersonCategory


def reissue(card, **extra) -> dict:
    """A reissue request's form for `card`, lost."""
    return {"card_no": card.card_no, "reason": "lost", **extra}


def counter_ok(desk, instance, **extra):
    """The clerk checked the ID, took the fee and approves the reissue."""
    desk.approve("clerk", instance, "counter", identity_checked=True, fee_paid=True, **extra)


def test_r15_r03_reissue_in_person_at_the_counter(desk, ctx, staff, db_session):
    old_no, account = staff.card_no, staff.account
    cash, fees = system_balance(ctx, AccountKind.CASH), system_balance(ctx, AccountKind.CARD_FEES)
    instance = desk.start("clerk", "card_reissue", reissue(staff))
    assert desk.waiting_at(instance) == ["counter"]
    assert desk.data(instance)["checked"]["balance"] == 5000
    counter_ok(desk, instance, new_card_no="8800112233")
    assert instance.status == InstanceStatus.COMPLETED
    assert ended_at(desk, instance) == ["done"]
    new = card_by_no(ctx, "8800112233")
    assert (new.state, new.account, new.replaces_id) == (CardState.ACTIVE, account, staff.id)
    assert account.purse.balance == 5000  # R15: same account and balance
    assert card_by_no(ctx, old_no).state == CardState.REPLACED
    with pytest.raises(TransitionNotAllowed):  # R15: voided at once, never unfrozen
        unfreeze_card(ctx, old_no, Channel.COUNTER)
    assert entries(ctx, EntryKind.CARD_FEE) == [2000]  # R03, paid in cash
    assert system_balance(ctx, AccountKind.CASH) - cash == -2000
    assert system_balance(ctx, AccountKind.CARD_FEES) - fees == 2000
    assert told(desk, "clerk", "8800112233")
    assert check_ledger(db_session) == []


def test_r03_a_temporary_card_reissue_costs_25_yuan(desk, ctx, make, home, db_session):
    card = make.card(P.OTHER, department=home)  # its issue cost 25 yuan too
    instance = desk.start("applicant", "card_reissue", reissue(card), home.id)
    assert desk.data(instance)["fee"] == 2500
    counter_ok(desk, instance)
    assert entries(ctx, EntryKind.CARD_FEE) == [2500, 2500]
    assert check_ledger(db_session) == []


def test_r03_the_fee_taken_from_the_balance(desk, ctx, staff, db_session):
    cash = system_balance(ctx, AccountKind.CASH)
    instance = desk.start("clerk", "card_reissue", reissue(staff, fee_from_balance=True))
    counter_ok(desk, instance)
    assert desk.data(instance)["reissued"]["balance"] == 3000
    assert staff.account.purse.balance == 3000
    assert system_balance(ctx, AccountKind.CASH) == cash
    assert check_ledger(db_session) == []


@pytest.mark.parametrize("evidence", ["holder_id", "written_delegation"])
def test_r16_a_delegate_filed_in_advance_by_the_department(desk, ctx, staff, home, evidence):
    who = delegate(evidence, evidence_ref="委托书 2026-118")
    data = reissue(staff, mode="delegated", delegate=who)
    instance = desk.start("applicant", "card_reissue", data, home.id)
    assert desk.task(instance, "counter").candidate_department_id == home.id
    counter_ok(desk, instance)
    assert instance.status == InstanceStatus.COMPLETED
    event = last_event(ctx, staff.card_no)
    assert event.to_state == CardState.REPLACED
    recorded = ctx.session.scalars(select(Delegation)).one()
    assert recorded.card_event_id == event.id and event.card_id == staff.id  # the holder's card
    assert (recorded.delegate_name, recorded.delegate_id_number) == ("王五", who["id_number"])
    assert (recorded.evidence, recorded.evidence_ref) == (evidence, "委托书 2026-118")
    assert told(desk, "applicant", desk.data(instance)["reissued"]["card_no"])
    assert check_ledger(ctx.session) == []


@pytest.mark.parametrize(
    "category", [MerchantCategory.LIBRARY, MerchantCategory.HOSPITAL, MerchantCategory.BUS]
)
def test_r17_the_new_card_waits_a_day_at_the_library_hospital_and_bus(
    desk, ctx, at, make, staff, category
):
    instance = desk.start("clerk", "card_reissue", reissue(staff))
    counter_ok(desk, instance)
    new_no = desk.data(instance)["reissued"]["card_no"]
    blocked = make.terminal(category=category)
    with pytest.raises(NotAllowed):
        purchase(ctx, new_no, blocked, 300)
    assert purchase(ctx, new_no, make.terminal(), 300)["balance"] == 4700  # a canteen: today
    assert purchase(at(NOW + timedelta(days=1)), new_no, blocked, 300)["balance"] == 4400
    assert check_ledger(ctx.session) == []


def test_r03_a_changed_fee_table_prices_new_requests_only(desk, ctx, make, home, db_session):
    first = make.card(P.FACULTY, department=home)
    old = desk.start("applicant", "card_reissue", reissue(first), home.id)
    desk.send_back("clerk", old, "counter", "请补充委托证明")
    table = (BPMN_DIR / "card_fee.dmn").read_bytes()
    changed = table.replace(b'"rule_4_fee"><text>2000<', b'"rule_4_fee"><text>3000<')
    assert changed != table
    files = {"card_reissue.bpmn": (BPMN_DIR / "card_reissue.bpmn").read_bytes()}
    deploy_sources(db_session, files | {"card_fee.dmn": changed})
    second = make.card(P.RETIREE, department=home)
    new = desk.start("applicant", "card_reissue", reissue(second), home.id)
    assert (new.definition.version, desk.data(new)["fee"]) == (2, 3000)
    desk.resubmit("applicant", old, reissue(first, reason="damaged"))
    assert (old.definition.version, desk.data(old)["fee"]) == (1, 2000)
    counter_ok(desk, old)
    counter_ok(desk, new)
    assert sorted(entries(ctx, EntryKind.CARD_FEE)) == [2000, 3000]
    assert check_ledger(db_session) == []


def test_r15_the_counter_refuses(desk, ctx, staff, db_session):
    before = snapshot(db_session)
    instance = desk.start("clerk", "card_reissue", reissue(staff))
    desk.reject("clerk", instance, "counter", comment="证件与持卡人不符")
    assert ended_at(desk, instance) == ["rejected"]
    assert snapshot(db_session) == before  # no card, no fee
    assert check_ledger(db_session) == []


def test_r16_returned_to_the_department_and_resubmitted(desk, ctx, staff, home):
    data = reissue(staff, mode="delegated", delegate=delegate())
    instance = desk.start("applicant", "card_reissue", data, home.id)
    desk.send_back("clerk", instance, "counter", "代办人未带持卡人证件，请改为委托证明")
    assert instance.status == InstanceStatus.RETURNED
    assert told(desk, "applicant", "退回")
    fixed = delegate("written_delegation", evidence_ref="委托书 7")
    desk.resubmit("applicant", instance, reissue(staff, mode="delegated", delegate=fixed))
    assert desk.waiting_at(instance) == ["counter"]
    counter_ok(desk, instance)
    recorded = ctx.session.scalars(select(Delegation)).one()
    assert (recorded.evidence, recorded.evidence_ref) == ("written_delegation", "委托书 7")


def test_r15_withdrawn_before_the_reissue_and_not_after(desk, staff, make, home, db_session):
    before = snapshot(db_session)
    instance = desk.start("applicant", "card_reissue", reissue(staff), home.id)
    desk.withdraw("applicant", instance)
    assert instance.status == InstanceStatus.WITHDRAWN and desk.waiting_at(instance) == []
    assert snapshot(db_session) == before
    other = make.card(P.FACULTY, department=home)
    done = desk.start("applicant", "card_reissue", reissue(other), home.id)
    counter_ok(desk, done)
    with pytest.raises(WrongInstanceState):
        desk.withdraw("applicant", done)


def test_r08_r15_a_balance_spent_before_the_reissue_is_an_incident(desk, ctx, make, staff):
    instance = desk.start("clerk", "card_reissue", reissue(staff, fee_from_balance=True))
    purchase(ctx, staff.card_no, make.terminal(), 4000)  # the damaged card still pays
    counter_ok(desk, instance)
    assert instance.status == InstanceStatus.INCIDENT  # rolled back: nothing half done
    assert card_by_no(ctx, staff.card_no).state == CardState.ACTIVE
    with pytest.raises(WrongInstanceState):
        desk.withdraw("clerk", instance)
    assert check_ledger(ctx.session) == []


def _cancelled(ctx, make, home):
    card = make.card(P.FACULTY, department=home)
    cancel_card(ctx, card.card_no)
    return reissue(card)


def _foreign(ctx, make, home):
    return reissue(make.card(P.FACULTY))


def _self_delegate(ctx, make, home):
    card = make.card(P.FACULTY, department=home, id_number=resident_id())
    holder = {"name": "本人", "id_number": card.person.id_number, "evidence": "holder_id"}
    return reissue(card, mode="delegated", delegate=holder)


def _short(ctx, make, home):
    return reissue(make.card(P.FACULTY, balance=1000, department=home), fee_from_balance=True)


@pytest.mark.parametrize(
    ("case", "problem"),
    [
        (lambda ctx, make, home: {"card_no": "99999999", "reason": "lost"}, "不存在"),
        (_cancelled, "只有正常或挂失的卡可以补办"),
        (_foreign, "不是本单位人员"),
        (_self_delegate, "代办人不能是持卡人本人"),
        (_short, "不足以支付工本费"),
    ],
    ids=["unknown", "cancelled", "foreign", "self_delegate", "short_balance"],
)
def test_r15_r20_an_invalid_reissue_ends_and_the_department_is_told(
    desk, ctx, make, home, case, problem
):
    data = case(ctx, make, home)
    before = snapshot(ctx.session)
    instance = desk.start("applicant", "card_reissue", data, home.id)
    assert instance.status == InstanceStatus.COMPLETED
    assert ended_at(desk, instance) == ["invalid"]
    assert told(desk, "applicant", problem)
    assert snapshot(ctx.session) == before


def test_r04_an_expired_temporary_card_is_not_reissued(desk, make, home):
    card = make.card(P.OTHER, department=home)  # valid for 180 days
    desk.later(days=181)
    instance = desk.start("applicant", "card_reissue", reissue(card), home.id)
    assert ended_at(desk, instance) == ["invalid"]
    assert told(desk, "applicant", "临时卡已过期")


def test_r15_the_request_lapses_when_nobody_comes_within_30_days(desk, staff, home, db_session):
    before = snapshot(db_session)
    instance = desk.start("applicant", "card_reissue", reissue(staff), home.id)
    assert desk.later(days=29) == 0
    assert desk.later(days=1) == 1
    assert instance.status == InstanceStatus.COMPLETED and desk.waiting_at(instance) == []
    assert ended_at(desk, instance) == ["lapsed"]
    assert told(desk, "applicant", "已作废")
    assert snapshot(db_session) == before


@pytest.mark.parametrize(
    ("extra", "path"),
    [
        ({"card_no": "12"}, ("card_no",)),
        ({"card_no": ...}, ("card_no",)),
        ({"reason": "stolen"}, ("reason",)),
        ({"mode": "delegated"}, ("delegate",)),
        ({"delegate": delegate()}, ("delegate",)),
        (
            {"mode": "delegated", "delegate": delegate(id_number="110105199003070010")},
            ("delegate", "id_number"),
        ),
        (
            {"mode": "delegated", "delegate": delegate("written_delegation")},
            ("delegate", "evidence_ref"),
        ),
    ],
    ids=["card_no", "missing", "reason", "no_delegate", "stray_delegate", "bad_id", "no_ref"],
)
def test_r16_the_reissue_form_refuses_bad_fields(desk, db_session, extra, path):
    data = {"card_no": "12345678", "reason": "lost"} | extra
    data = {k: v for k, v in data.items() if v is not ...}  # ... leaves the field out
    with pytest.raises(FormInvalid) as refused:
        desk.start("clerk", "card_reissue", data)
    messages = at_path(refused.value.errors, path)
    assert messages and all(" / " in m for m in messages)  # both languages
    assert started(db_session) == 0


def test_r16_the_counter_form_needs_the_checks_to_approve(desk, staff):
    instance = desk.start("clerk", "card_reissue", reissue(staff))
    with pytest.raises(FormInvalid) as refused:
        desk.approve("clerk", instance, "counter", fee_paid=True)
    assert "identity_checked" in refused.value.errors
    with pytest.raises(FormInvalid):
        desk.approve("clerk", instance, "counter", identity_checked=True, new_card_no="1x")
    assert desk.waiting_at(instance) == ["counter"]


def test_r15_only_applicants_and_the_card_office_file_a_reissue(desk, staff, home):
    with pytest.raises(NotAllowed):
        desk.start("settlement", "card_reissue", reissue(staff), home.id)


def test_r20_a_failed_check_shows_nothing_of_another_department_s_card(desk, make, home):
    theirs = make.card(P.FACULTY, balance=3000)  # of another department
    instance = desk.start("applicant", "card_reissue", reissue(theirs), home.id)
    assert ended_at(desk, instance) == ["invalid"]
    found = desk.data(instance)["checked"]
    assert not found["ok"] and set(found) == {"ok", "problems"}  # no holder, ID or balance
    assert not CARD_DETAILS & desk.data(instance).keys()

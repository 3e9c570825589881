"""注销 (card_cancellation: R14, R18), end to end through `workflows`: filed at the counter,
checked, the balance handed over in cash and the card cancelled in the ledger, whose journal
is checked after each path."""

import pytest
from sqlalchemy import select

from ledger.check import check_ledger
from ledger.errors import CardNotActive, NotAllowed
from ledger.models.accounts import AccountKind
from ledger.models.cards import CardState, Channel, Delegation
from ledger.models.money import Refund, RefundRoute, RefundState
from ledger.models.people import PersonCategory
from ledger.ops.cards import expire_cards, freeze_card, report_loss
from ledger.ops.closing import cancel_card
from ledger.ops.money import TopUpMethod, purchase, top_up
from tests.ledger.helpers import card_by_no, last_event, snapshot, system_balance
from tests.procedures.cards.conftest import (
    at_path,
    delegate,
    ended_at,
    resident_id_ending_in_x,
    started,
    told,
)
from tests.procedures.conftest import resident_id
from workflows.errors import FormInvalid, WrongInstanceState
from workflows.models import InstanceStatus
from workflows.runtime import open_incident_of

P = PersonCategory


def cancellation(card, reason="left", **extra) -> dict:
    """A cancellation's form for `card`, its holder's ID checked at the counter."""
    return {"card_no": card.card_no, "reason": reason, "identity_checked": True, **extra}


def pay_out(desk, instance):
    """The clerk hands the balance over in cash and approves the cancellation."""
    desk.approve("clerk", instance, "counter", cash_handed_over=True)


def test_r18_r14_cancellation_pays_the_balance_in_cash(desk, ctx, make, staff, db_session):
    cash = system_balance(ctx, AccountKind.CASH)
    instance = desk.start("clerk", "card_cancellation", cancellation(staff, card_presented=True))
    assert desk.data(instance)["checked"]["balance"] == 5000  # shown at the counter
    pay_out(desk, instance)
    assert ended_at(desk, instance) == ["done"]
    assert card_by_no(ctx, staff.card_no).state == CardState.CANCELLED
    refund = db_session.scalars(select(Refund)).one()
    assert (refund.route, refund.state, refund.amount) == (RefundRoute.CASH, RefundState.PAID, 5000)
    assert refund.paid_to == {"to": "holder"}
    assert system_balance(ctx, AccountKind.CASH) - cash == 5000
    assert desk.data(instance)["cancelled"]["paid_out"] == 5000
    with pytest.raises(CardNotActive):
        purchase(ctx, staff.card_no, make.terminal(), 100)
    assert check_ledger(db_session) == []


def test_r18_a_delegate_brings_their_own_card_and_id(desk, ctx, make, staff, db_session):
    theirs = make.card(P.FACULTY, id_number=resident_id())
    who = delegate(id_number=theirs.person.id_number, card_no=theirs.card_no)
    data = cancellation(staff, card_presented=True, delegate=who)
    instance = desk.start("clerk", "card_cancellation", data)
    pay_out(desk, instance)
    recorded = db_session.scalars(select(Delegation)).one()
    assert recorded.card_event_id == last_event(ctx, staff.card_no).id
    assert recorded.delegate_id_number == theirs.person.id_number
    assert db_session.scalars(select(Refund)).one().paid_to == {"to": "delegate"}
    assert check_ledger(db_session) == []


@pytest.mark.parametrize("expired", [False, True])
def test_r18_r14_a_temporary_card_needs_ids_only(desk, at, make, home, db_session, expired):
    card = make.card(P.OTHER, balance=800, department=home)  # valid for 180 days
    if expired:  # R04: its balance is refundable in cash all the same
        desk.later(days=181)
        assert expire_cards(at(desk.now)) == [card.card_no]
    data = cancellation(card, "stay_ended", delegate=delegate())  # no card, no delegate's card
    instance = desk.start("clerk", "card_cancellation", data)
    pay_out(desk, instance)
    assert desk.data(instance)["cancelled"] == {
        "card_no": card.card_no, "state": "cancelled", "paid_out": 800,
    }  # fmt: skip
    assert check_ledger(db_session) == []


def test_r18_a_lost_card_is_cancelled_without_it(desk, ctx, make, home, db_session):
    card = make.card(P.UNDERGRADUATE, department=home)
    report_loss(ctx, card.card_no, Channel.COUNTER)
    instance = desk.start("clerk", "card_cancellation", cancellation(card, "withdrawn"))
    pay_out(desk, instance)
    assert card_by_no(ctx, card.card_no).state == CardState.CANCELLED
    assert desk.data(instance)["cancelled"]["paid_out"] == 0
    assert check_ledger(db_session) == []


def _graduate(ctx, make):
    return cancellation(make.card(P.UNDERGRADUATE), "left", card_presented=True), "毕业生"


def _no_card(ctx, make):
    return cancellation(make.card(P.FACULTY)), "须交回校园卡"


def _no_delegate_card(ctx, make):
    data = cancellation(make.card(P.FACULTY), card_presented=True, delegate=delegate())
    return data, "代办人须出示本人有效的校园卡"


def _someone_elses_card(ctx, make):
    who = delegate(card_no=make.card(P.FACULTY).card_no)
    return cancellation(make.card(P.FACULTY), card_presented=True, delegate=who), "代办人本人"


def _frozen(ctx, make):
    card = make.card(P.FACULTY)
    freeze_card(ctx, card.card_no, "违规使用")
    return cancellation(card, card_presented=True), "须先解除冻结"


def _ended(ctx, make):
    card = make.card(P.FACULTY)
    cancel_card(ctx, card.card_no)
    return cancellation(card, card_presented=True), "不能注销"


@pytest.mark.parametrize(
    "case", [_graduate, _no_card, _no_delegate_card, _someone_elses_card, _frozen, _ended]
)
def test_r14_r18_an_invalid_cancellation_ends_and_the_clerk_is_told(desk, ctx, make, case):
    data, problem = case(ctx, make)
    before = snapshot(ctx.session)
    instance = desk.start("clerk", "card_cancellation", data)
    assert ended_at(desk, instance) == ["invalid"]
    assert set(desk.data(instance)["checked"]) == {"ok", "problems"}  # nothing of the card
    assert told(desk, "clerk", problem)
    assert snapshot(ctx.session) == before


def test_r18_the_counter_refuses_a_cancellation(desk, staff, db_session):
    before = snapshot(db_session)
    instance = desk.start("clerk", "card_cancellation", cancellation(staff, card_presented=True))
    desk.reject("clerk", instance, "counter", comment="持卡人决定暂不注销")
    assert ended_at(desk, instance) == ["rejected"]
    assert snapshot(db_session) == before


def test_r18_returned_corrected_and_resubmitted(desk, ctx, make, staff):
    instance = desk.start("clerk", "card_cancellation", cancellation(staff, card_presented=True))
    desk.send_back("clerk2", instance, "counter", "实为代办，请登记代办人")
    assert instance.status == InstanceStatus.RETURNED
    theirs = make.card(P.FACULTY, id_number=resident_id())
    who = delegate(id_number=theirs.person.id_number, card_no=theirs.card_no)
    desk.resubmit("clerk", instance, cancellation(staff, card_presented=True, delegate=who))
    pay_out(desk, instance)
    assert card_by_no(ctx, staff.card_no).state == CardState.CANCELLED
    assert ctx.session.scalars(select(Delegation)).one().delegate_name == "王五"


def test_r18_withdrawn_before_the_cancellation_and_not_after(desk, staff, make, db_session):
    before = snapshot(db_session)
    instance = desk.start("clerk", "card_cancellation", cancellation(staff, card_presented=True))
    desk.withdraw("clerk", instance)
    assert instance.status == InstanceStatus.WITHDRAWN
    assert snapshot(db_session) == before
    again = desk.start("clerk", "card_cancellation", cancellation(staff, card_presented=True))
    pay_out(desk, again)
    with pytest.raises(WrongInstanceState):
        desk.withdraw("clerk", again)


@pytest.mark.parametrize(
    ("extra", "path"),
    [
        ({"identity_checked": False}, ("identity_checked",)),
        ({"reason": "graduated"}, ("reason",)),
        ({"delegate": {"name": "王五", "id_number": resident_id()}}, ("delegate", "evidence")),
        ({"delegate": delegate(card_no="12ab")}, ("delegate", "card_no")),
    ],
    ids=["unchecked", "graduated", "no_evidence", "bad_card_no"],
)
def test_r18_the_cancellation_form_refuses_bad_fields(desk, staff, db_session, extra, path):
    with pytest.raises(FormInvalid) as refused:
        desk.start("clerk", "card_cancellation", cancellation(staff) | extra)
    messages = at_path(refused.value.errors, path)
    assert messages and all(" / " in m for m in messages)
    assert started(db_session) == 0


def test_r18_only_the_counter_cancels(desk, staff, home, db_session):
    with pytest.raises(NotAllowed):
        desk.start("applicant", "card_cancellation", cancellation(staff), home.id)
    instance = desk.start("clerk", "card_cancellation", cancellation(staff, card_presented=True))
    with pytest.raises(FormInvalid):
        desk.approve("clerk", instance, "counter")  # the cash not confirmed


@pytest.mark.parametrize(
    "move",
    [
        lambda ctx, make, card_no: purchase(ctx, card_no, make.terminal(), 1000),
        lambda ctx, make, card_no: top_up(ctx, card_no, 1000, TopUpMethod.CASH),
    ],
    ids=["purchase", "top_up"],
)
def test_r14_r18_a_balance_moved_since_the_check_pays_nothing_out(
    desk, ctx, make, staff, db_session, move
):
    cash = system_balance(ctx, AccountKind.CASH)
    instance = desk.start("clerk", "card_cancellation", cancellation(staff, card_presented=True))
    assert desk.data(instance)["checked"]["balance"] == 5000  # what the clerk counts out
    move(ctx, make, staff.card_no)  # the card still works until the counter step
    moved = system_balance(ctx, AccountKind.CASH) - cash
    pay_out(desk, instance)
    assert instance.status == InstanceStatus.INCIDENT  # rolled back: nothing paid out
    assert "50.00" in open_incident_of(db_session, instance.id).error
    assert card_by_no(ctx, staff.card_no).state == CardState.ACTIVE
    assert db_session.scalars(select(Refund)).all() == []
    assert system_balance(ctx, AccountKind.CASH) - cash == moved
    with pytest.raises(WrongInstanceState):
        desk.withdraw("clerk", instance)
    assert check_ledger(db_session) == []


def _lose(ctx, card):
    report_loss(ctx, card.card_no, Channel.COUNTER)


def _freeze(ctx, card):
    freeze_card(ctx, card.card_no, "违规使用")


@pytest.mark.parametrize(
    ("category", "disable", "days"),
    [(P.FACULTY, _lose, 0), (P.FACULTY, _freeze, 0), (P.OTHER, None, 181)],
    ids=["lost", "frozen", "past_its_expiry"],
)
def test_r18_the_delegate_s_own_card_must_be_usable(
    desk, ctx, make, staff, category, disable, days
):
    theirs = make.card(category, id_number=resident_id())
    if disable:
        disable(ctx, theirs)
    desk.later(days=days)  # a temporary card past its date, before the nightly job marks it
    who = delegate(id_number=theirs.person.id_number, card_no=theirs.card_no)
    data = cancellation(staff, card_presented=True, delegate=who)
    instance = desk.start("clerk", "card_cancellation", data)
    assert ended_at(desk, instance) == ["invalid"]
    assert told(desk, "clerk", "代办人须出示本人有效的校园卡")


def test_r18_the_delegate_s_id_number_matches_in_either_case(desk, ctx, make, staff, db_session):
    number = resident_id_ending_in_x()
    theirs = make.card(P.FACULTY, id_number=number.lower())  # as the card system recorded it
    who = delegate(id_number=number, card_no=theirs.card_no)
    data = cancellation(staff, card_presented=True, delegate=who)
    instance = desk.start("clerk", "card_cancellation", data)
    assert desk.waiting_at(instance) == ["counter"]
    pay_out(desk, instance)
    assert card_by_no(ctx, staff.card_no).state == CardState.CANCELLED
    assert check_ledger(db_session) == []

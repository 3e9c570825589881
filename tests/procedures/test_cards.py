"""补办校园卡 (card_reissue: R03, R15-R17) and 注销 (card_cancellation: R14, R18), end to end
through `workflows`: filed at the counter or in advance, checked, decided at the counter and
carried out in the ledger, whose journal is checked after each path."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from ledger.check import check_ledger
from ledger.errors import CardNotActive, NotAllowed, TransitionNotAllowed
from ledger.models.accounts import AccountKind
from ledger.models.cards import CardState, Channel, Delegation
from ledger.models.journal import EntryKind
from ledger.models.merchants import MerchantCategory
from ledger.models.money import Refund, RefundRoute, RefundState
from ledger.models.people import PersonCategory
from ledger.ops.cards import expire_cards, freeze_card, report_loss, unfreeze_card
from ledger.ops.closing import cancel_card
from ledger.ops.money import purchase
from tests.conftest import NOW
from tests.ledger.helpers import card_by_no, entries, last_event, snapshot, system_balance
from tests.procedures.conftest import BPMN_DIR, resident_id
from workflows import runtime, spiff
from workflows.deploy import deploy_sources
from workflows.errors import FormInvalid, WrongInstanceState
from workflows.models import InstanceStatus, ProcessInstance

P = PersonCategory
FILES = ("card_reissue.bpmn", "card_cancellation.bpmn", "card_fee.dmn")


@pytest.fixture
def office(db_session):
    """This area's processes and the fee table: its tests do not wait on other areas' files
    (tests/procedures/test_diagrams.py deploys the whole of bpmn/)."""
    return deploy_sources(db_session, {name: (BPMN_DIR / name).read_bytes() for name in FILES})


@pytest.fixture
def staff(make, home):
    """A staff card of `home`'s, 50 yuan on it, its holder's ID number a valid one."""
    return make.card(P.FACULTY, balance=5000, department=home, id_number=resident_id())


def delegate(evidence: str = "holder_id", **extra) -> dict:
    """A delegate's part of a form: 王五, with a valid ID number of their own."""
    return {"name": "王五", "id_number": resident_id(), "evidence": evidence, **extra}


def reissue(card, **extra) -> dict:
    """A reissue request's form for `card`, lost."""
    return {"card_no": card.card_no, "reason": "lost", **extra}


def counter_ok(desk, instance, **extra):
    """The clerk checked the ID, took the fee and approves the reissue."""
    desk.approve("clerk", instance, "counter", identity_checked=True, fee_paid=True, **extra)


def ended_at(desk, instance) -> list[str]:
    """The end events the instance reached."""
    with desk._at():
        workflow = runtime.open_workflow(desk.env(None), instance)
    done = workflow.get_tasks(state=spiff.TaskState.COMPLETED)
    return [t.task_spec.bpmn_id for t in done if type(t.task_spec).__name__ == "EndEvent"]


def told(desk, who: str, text: str) -> bool:
    """Whether `who` has a notification saying `text`."""
    return any(text in note.text_zh for note in desk.notes(who))


def started(db_session) -> int:
    """How many requests were filed."""
    return db_session.scalar(select(func.count()).select_from(ProcessInstance))


# --- 补办 card_reissue --------------------------------------------------------------------


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


def at_path(errors: dict, path: tuple[str, ...]) -> list[str]:
    """The messages FormInvalid gives for a field (a nested field by its path)."""
    for key in path:
        errors = errors[key]
    return errors


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


# --- 注销 card_cancellation ---------------------------------------------------------------


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

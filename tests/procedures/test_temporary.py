"""临时卡申请 (R21) and 临时卡延期 (R22), end to end through the engine, the ledger checked
afterwards: R03 fees from the table, R04 expiry, R20 certification and refusal, the 30-day
lapse, returns and withdrawals, and the reminder thirty days before expiry."""

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ledger.check import check_ledger
from ledger.models.cards import Card, CardEvent, CardState
from ledger.models.journal import EntryKind, JournalEntry
from ledger.models.people import Person, PersonCategory
from ledger.ops.cards import one_year_after
from tests.procedures.conftest import BPMN_DIR, resident_id
from workflows.deploy import deploy_sources
from workflows.errors import FormInvalid, NotAllowed
from workflows.formdata import validated
from workflows.models import InstanceStatus
from workflows.procedures.temporary import remind_expiring_cards

TODAY = date(2026, 11, 27)


def visitor(name="王临时", until=TODAY + timedelta(days=90), **kw) -> dict:
    return {
        "name": name, "id_type": "resident_id", "id_number": resident_id(),
        "phone": "13800000000", "post": "访问学者", "work_from": TODAY.isoformat(),
        "work_until": until.isoformat(),
    } | kw  # fmt: skip


def apply(desk, home, *people, reason="科研项目临时聘用"):
    data = {"people": list(people) or [visitor()], "reason": reason}
    return desk.start("applicant", "temporary_card", data, home.id)


def approved(desk, home, *people):
    """An application certified and approved, waiting at the counter."""
    instance = apply(desk, home, *people)
    desk.approve("approver", instance, "dept_certify", certified=True)
    desk.approve("clerk", instance, "office_review")
    return instance


def come(desk, instance, nth=0, **data):
    """The nth person waiting comes to the counter and is issued a card."""
    return desk.approve(
        "clerk", instance, "visit", nth=nth, identity_checked=True, fee_paid=True, **data
    )


def cards_of(session, id_number: str) -> list[Card]:
    query = select(Card).join(Person).where(Person.id_number == id_number)
    return list(session.scalars(query))


def fees(session) -> list[int]:
    query = select(JournalEntry.amount).where(JournalEntry.kind == EntryKind.CARD_FEE)
    return list(session.scalars(query.order_by(JournalEntry.id)))


def test_r21_r04_each_person_comes_to_the_counter_and_gets_a_card(desk, home, db_session):
    first, second = visitor("甲"), visitor("乙", until=TODAY + timedelta(days=500))
    instance = approved(desk, home, first, second)
    assert desk.waiting_at(instance) == ["visit", "visit"]
    come(desk, instance, 0, new_card_no="2026000001")
    come(desk, instance, 0)
    assert instance.status == InstanceStatus.COMPLETED
    (card_a,), (card_b,) = (
        cards_of(db_session, first["id_number"]),
        cards_of(db_session, second["id_number"]),
    )
    assert (card_a.card_no, card_a.state, card_a.expires_on) == (
        "2026000001",
        CardState.ACTIVE,
        TODAY + timedelta(days=90),
    )
    assert card_b.expires_on == one_year_after(TODAY)  # R04: never more than a year
    assert card_a.person.category == PersonCategory.OTHER and card_a.person.department_id == home.id
    assert fees(db_session) == [2500, 2500]  # R03, from the fee table
    outcomes = desk.data(instance)["outcomes"]
    assert sorted(o["state"] for o in outcomes) == ["issued", "issued"]
    assert check_ledger(db_session) == []


def test_r20_approving_needs_the_certification(desk, home):
    instance = apply(desk, home)
    with pytest.raises(FormInvalid) as caught:
        desk.approve("approver", instance, "dept_certify")
    assert "certified" in caught.value.errors
    assert desk.waiting_at(instance) == ["dept_certify"]


def test_r20_people_of_another_department_are_refused_and_reported(desk, home, make, db_session):
    other = make.person(PersonCategory.OTHER, department=make.department(), id_number=resident_id())
    stranger = visitor(other.name, id_number=other.id_number)
    instance = apply(desk, home, visitor(), stranger)
    desk.approve("approver", instance, "dept_certify", certified=True)
    assert instance.status == InstanceStatus.COMPLETED and desk.waiting_at(instance) == []
    assert "report" in desk.audit(instance)
    for who in ("clerk", "it", "applicant"):
        assert any(n.kind == "fraud" and "approver" in n.text_zh for n in desk.notes(who))
    assert db_session.scalar(select(func.count(Card.id))) == 0


def test_r02_a_person_holding_a_card_makes_the_request_invalid(desk, home, make, db_session):
    holder = make.person(PersonCategory.OTHER, department=home, id_number=resident_id())
    make.card(PersonCategory.OTHER, person=holder)
    instance = apply(desk, home, visitor(holder.name, id_number=holder.id_number))
    desk.approve("approver", instance, "dept_certify", certified=True)
    assert instance.status == InstanceStatus.COMPLETED
    told = [n for n in desk.notes("applicant") if n.kind == "invalid"]
    assert told and "已持有校园卡" in told[0].text_zh
    assert desk.data(instance)["screening"]["ok"] is False


@pytest.mark.parametrize(
    ("who", "step"), [("approver", "dept_certify"), ("clerk", "office_review")]
)
def test_r21_a_rejection_ends_the_request_and_tells_the_applicant(
    desk, home, who, step, db_session
):
    instance = apply(desk, home)
    if step == "office_review":
        desk.approve("approver", instance, "dept_certify", certified=True)
    desk.reject(who, instance, step, comment="人员信息不全")
    assert instance.status == InstanceStatus.COMPLETED and desk.waiting_at(instance) == []
    assert any(n.kind == "decision" for n in desk.notes("applicant"))
    assert db_session.scalar(select(func.count(Card.id))) == 0


def test_r21_returned_to_the_department_and_resubmitted(desk, home):
    instance = apply(desk, home)
    desk.approve("approver", instance, "dept_certify", certified=True)
    desk.send_back("clerk", instance, "office_review", reason="请补充工作期限证明")
    assert instance.status == InstanceStatus.RETURNED
    desk.resubmit("applicant", instance, {"people": [visitor("丙")], "reason": "补充后重新提交"})
    assert instance.status == InstanceStatus.RUNNING
    assert desk.waiting_at(instance) == ["dept_certify"]


def test_r21_the_department_withdraws_until_a_card_is_issued(desk, home):
    pending = approved(desk, home)
    desk.withdraw("applicant", pending)
    assert pending.status == InstanceStatus.WITHDRAWN and desk.waiting_at(pending) == []
    started = approved(desk, home, visitor("甲"), visitor("乙"))
    come(desk, started)
    with pytest.raises(NotAllowed):
        desk.withdraw("applicant", started)


def test_r21_who_has_not_come_within_30_days_lapses(desk, home, db_session):
    comes, stays_away = visitor("来者"), visitor("未来者")
    instance = approved(desk, home, comes, stays_away)
    desk.later(days=3)
    come(desk, instance, 0)
    assert desk.later(days=26) == 0  # day 29: nothing due yet
    assert desk.later(days=1) == 1
    assert instance.status == InstanceStatus.COMPLETED
    assert cards_of(db_session, stays_away["id_number"]) == []
    lapsed = [n for n in desk.notes("applicant") if n.kind == "lapsed"]
    assert len(lapsed) == 1 and "未来者" in lapsed[0].text_zh
    states = {o["name"]: o["state"] for o in desk.data(instance)["outcomes"]}
    assert states == {"来者": "issued", "未来者": "lapsed"}


def test_r01_people_entitled_to_another_card_cannot_have_a_temporary_one(desk, home, make):
    staff = make.person(PersonCategory.FACULTY, department=home, id_number=resident_id())
    instance = apply(desk, home, visitor(staff.name, id_number=staff.id_number))
    desk.approve("approver", instance, "dept_certify", certified=True)
    assert instance.status == InstanceStatus.COMPLETED and desk.waiting_at(instance) == []
    assert any("应办理职工卡" in n.text_zh for n in desk.notes("applicant"))


def test_r04_who_comes_after_the_working_period_gets_no_card(desk, home, db_session):
    person = visitor(until=TODAY + timedelta(days=10))
    instance = approved(desk, home, person)
    desk.later(days=12)
    come(desk, instance)
    assert instance.status == InstanceStatus.COMPLETED
    assert cards_of(db_session, person["id_number"]) == [] and fees(db_session) == []
    assert desk.data(instance)["outcomes"][0]["state"] == "period_over"
    assert any(n.kind == "period_over" for n in desk.notes("applicant"))


def test_r21_the_counter_refuses_when_the_id_does_not_match(desk, home, db_session):
    person = visitor()
    instance = approved(desk, home, person)
    desk.reject("clerk", instance, "visit", comment="证件与申请不符")
    assert instance.status == InstanceStatus.COMPLETED
    assert cards_of(db_session, person["id_number"]) == []
    assert desk.data(instance)["outcomes"][0]["state"] == "refused"


def test_r21_issuing_needs_the_id_check_and_the_fee(desk, home):
    instance = approved(desk, home)
    with pytest.raises(FormInvalid) as caught:
        desk.approve("clerk", instance, "visit", identity_checked=True)
    assert set(caught.value.errors) == {"fee_paid"}


def test_r03_a_new_fee_table_changes_the_fee_of_new_requests_only(desk, home, db_session):
    before = approved(desk, home)
    table = (BPMN_DIR / "card_fee.dmn").read_bytes()
    changed = table.replace(
        b"<text>2500</text></outputEntry></rule>", b"<text>3000</text></outputEntry></rule>", 1
    )
    sources = {p.name: p.read_bytes() for p in Path(BPMN_DIR).glob("*.bpmn")}
    outcomes = deploy_sources(db_session, sources | {"card_fee.dmn": changed})
    assert ("temporary_card", "version") in {(d.key, d.outcome) for d in outcomes}
    after = approved(desk, home)
    come(desk, before)
    come(desk, after)
    assert fees(db_session) == [2500, 3000]


@pytest.mark.parametrize(
    ("person", "field"),
    [
        (visitor(id_number="110105199003071234"), "id_number"),
        (visitor(work_from="2026-12-31", until=TODAY + timedelta(days=5)), "work_until"),
        (visitor(phone="call me"), "phone"),
        (visitor(until=TODAY - timedelta(days=1), work_from="2026-01-01"), "work_until"),
    ],
)
def test_r21_a_bad_field_is_reported_and_nothing_is_filed(desk, home, person, field, db_session):
    with pytest.raises(FormInvalid) as caught:
        apply(desk, home, person)
    assert field in caught.value.errors["people"][0]
    message = str(caught.value.errors["people"][0][field])
    assert " / " in message  # both languages


def test_r21_the_same_person_twice_and_an_empty_list_are_refused(desk, home):
    twice = visitor()
    for people in ([twice, dict(twice)], []):
        with pytest.raises(FormInvalid) as caught:
            desk.start("applicant", "temporary_card", {"people": people, "reason": "临时"}, home.id)
        assert "people" in caught.value.errors


# --- 临时卡延期 (R22) --------------------------------------------------------------------------


def extension(desk, home, card_no, until=TODAY + timedelta(days=200)):
    data = {"card_no": card_no, "new_expiry": until.isoformat(), "reason": "项目延期"}
    return desk.start("applicant", "temporary_card_extension", data, home.id)


@pytest.fixture
def temporary(make, home):
    """A temporary card of `home`'s, valid for 180 days."""
    return make.card(PersonCategory.OTHER, department=home)


def test_r22_r04_an_approved_extension_moves_the_expiry(desk, home, temporary, db_session):
    instance = extension(desk, home, temporary.card_no)
    desk.approve("approver", instance, "dept_review")
    desk.approve("clerk", instance, "office_review")
    assert instance.status == InstanceStatus.COMPLETED
    assert temporary.expires_on == TODAY + timedelta(days=200)
    assert check_ledger(db_session) == []


def test_r22_an_expired_card_is_not_extended(desk, home, temporary, at, ctx):
    from ledger.ops.cards import expire_cards

    expire_cards(at(ctx.now + timedelta(days=181)))
    instance = extension(desk, home, temporary.card_no)
    assert instance.status == InstanceStatus.COMPLETED and desk.waiting_at(instance) == []
    (note,) = [n for n in desk.notes("applicant") if n.kind == "invalid"]
    assert "到期前申请" in note.text_zh and "before expiry" in note.text_en
    assert temporary.state == CardState.EXPIRED


def test_r22_the_new_expiry_must_be_later_than_the_current_one(desk, home, temporary):
    instance = extension(desk, home, temporary.card_no, until=temporary.expires_on)
    assert instance.status == InstanceStatus.COMPLETED and desk.waiting_at(instance) == []
    assert any("晚于当前有效期" in n.text_zh for n in desk.notes("applicant"))
    assert "holder" not in desk.data(instance)["check"]


def test_r04_forms_are_validated_on_the_operations_day_not_the_wall_clock():
    data = {"card_no": "1234567", "new_expiry": "2027-06-01", "reason": "项目延期"}
    assert validated("temporary_card_extension", data, today=date(2026, 11, 27))
    with pytest.raises(FormInvalid):  # more than a year ahead of that day
        validated("temporary_card_extension", data, today=date(2026, 5, 1))


def test_r04_an_extension_more_than_a_year_ahead_is_refused(desk, home, temporary):
    with pytest.raises(FormInvalid) as caught:
        extension(desk, home, temporary.card_no, until=one_year_after(TODAY) + timedelta(days=1))
    assert "new_expiry" in caught.value.errors


@pytest.mark.parametrize("whose", ["another department's", "a staff card"])
def test_r22_only_the_departments_temporary_cards_are_extended(desk, home, make, whose):
    card = (
        make.card(PersonCategory.OTHER)
        if whose == "another department's"
        else make.card(PersonCategory.FACULTY, department=home)
    )
    instance = extension(desk, home, card.card_no)
    assert instance.status == InstanceStatus.COMPLETED and desk.waiting_at(instance) == []
    assert any(n.kind == "invalid" for n in desk.notes("applicant"))


@pytest.mark.parametrize(("who", "step"), [("approver", "dept_review"), ("clerk", "office_review")])
def test_r22_a_rejected_extension_changes_nothing(desk, home, temporary, who, step):
    expiry = temporary.expires_on
    instance = extension(desk, home, temporary.card_no)
    if step == "office_review":
        desk.approve("approver", instance, "dept_review")
    desk.reject(who, instance, step)
    assert instance.status == InstanceStatus.COMPLETED and temporary.expires_on == expiry


def test_r22_thirty_days_before_expiry_the_department_is_offered_the_extension(
    desk, home, temporary, db_session
):
    desk.now += timedelta(days=149)  # 31 days before expiry: not yet
    assert remind_expiring_cards(desk.env(None)) == []
    desk.now += timedelta(days=1)
    assert remind_expiring_cards(desk.env(None)) == [temporary.card_no]
    assert remind_expiring_cards(desk.env(None)) == []  # once per expiry
    (note,) = [n for n in desk.notes("applicant") if n.kind == "expiring"]
    assert note.link.startswith("/start/temporary_card_extension?")
    assert f"card_no={temporary.card_no}" in note.link
    reminders = select(func.count(CardEvent.id)).where(CardEvent.reason == "expiry reminder")
    assert db_session.scalar(reminders) == 1

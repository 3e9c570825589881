"""Issuing cards and moving them through their states: R01-R05, R13, R20, R22."""

import re
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ledger.check import check_ledger
from ledger.errors import (
    CardExpired,
    CardNotActive,
    InvalidInput,
    NotAllowed,
    NotFound,
    OneCardPerPerson,
    TransitionNotAllowed,
    WrongPassword,
)
from ledger.models.accounts import AccountKind
from ledger.models.cards import Card, CardState, CardType, Channel
from ledger.models.journal import EntryKind, JournalEntry, Posting
from ledger.models.people import PersonCategory
from ledger.ops.cards import (
    expire_cards,
    extend_card,
    freeze_card,
    issue_card,
    lift_freeze,
    report_loss,
    unfreeze_card,
)
from ledger.ops.closing import TerminationReason, cancel_card, terminate_card
from ledger.ops.money import purchase
from ledger.ops.reissue import reissue_card
from tests.ledger.helpers import (
    card_by_no,
    last_event,
    password_of,
    snapshot,
    system_balance,
    writes_nothing,
)

P, S = PersonCategory, CardState
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def issue_temporary(ctx, make, days: int = 90) -> str:
    person = make.person(P.OTHER)
    return issue_card(ctx, person.id, valid_until=ctx.today + timedelta(days=days))["card_no"]


# --- R01 card type, R02 one card, R03 fees, R20 fraudulent requests ---------------------------


@pytest.mark.parametrize(
    ("category", "card_type"),
    [
        (P.FACULTY, CardType.STAFF),
        (P.POSTDOC, CardType.STAFF),
        (P.RETIREE, CardType.STAFF),
        (P.AGENCY_STAFF, CardType.STAFF),
        (P.EXTERNAL_EXPERT, CardType.STAFF),
        (P.EMPLOYEE, CardType.EMPLOYEE),
        (P.UNDERGRADUATE, CardType.STUDENT),
        (P.POSTGRADUATE, CardType.STUDENT),
        (P.INTERNATIONAL_STUDENT, CardType.STUDENT),
        (P.OTHER, CardType.TEMPORARY),
    ],
)
def test_r01_card_type_follows_person_category(ctx, make, category, card_type):
    person = make.person(category)
    result = issue_card(ctx, person.id, valid_until=ctx.today + timedelta(days=30))
    card = card_by_no(ctx, result["card_no"])
    assert (result["card_type"], card.card_type, card.state) == (card_type, card_type, S.ACTIVE)
    assert (card.expires_on is not None) == (card_type == CardType.TEMPORARY)
    event = last_event(ctx, card.card_no)
    assert (event.to_state, event.reason, event.channel) == (S.ACTIVE, "issued", "counter")


def test_r02_second_card_refused_while_one_is_usable(ctx, make):
    held = make.card()
    with writes_nothing(ctx.session), pytest.raises(OneCardPerPerson) as refused:
        issue_card(ctx, held.person_id)
    assert held.card_no in refused.value.message("zh")
    assert "一人一卡" in refused.value.message("zh")


@pytest.mark.parametrize("to_state", [S.LOST, S.FROZEN])
def test_r02_lost_or_frozen_card_still_counts(ctx, make, to_state):
    held = make.card()
    if to_state == S.LOST:
        report_loss(ctx, held.card_no, Channel.COUNTER)
    else:
        freeze_card(ctx, held.card_no, "violation")
    with pytest.raises(OneCardPerPerson):
        issue_card(ctx, held.person_id)


def test_r02_database_refuses_a_second_live_card(ctx, make):
    held = make.card()
    with pytest.raises(IntegrityError), ctx.session.begin_nested():
        ctx.session.add(
            Card(
                card_no="9000000001",
                person_id=held.person_id,
                card_account_id=held.card_account_id,
                card_type=held.card_type,
                state=S.LOST,
                issued_at=ctx.now,
            )
        )
        ctx.session.flush()
    owned = ctx.session.scalar(select(func.count(Card.id)).where(Card.person_id == held.person_id))
    assert owned == 1


@pytest.mark.parametrize(
    ("category", "fee"),
    [(P.FACULTY, 0), (P.EMPLOYEE, 0), (P.UNDERGRADUATE, 0), (P.OTHER, 2500)],
)
def test_r03_first_issue_fee(ctx, make, category, fee):
    person = make.person(category)
    result = issue_card(ctx, person.id, valid_until=ctx.today + timedelta(days=30))
    assert result["fee"] == fee
    assert system_balance(ctx, AccountKind.CARD_FEES) == fee
    assert system_balance(ctx, AccountKind.CASH) == -fee  # cash came in
    legs = ctx.session.execute(
        select(JournalEntry.kind, Posting.amount)
        .join(Posting)
        .where(JournalEntry.card_id.is_not(None))
    ).all()
    assert legs == ([(EntryKind.CARD_FEE, fee)] if fee else [])
    assert card_by_no(ctx, result["card_no"]).account.purse.balance == 0
    assert check_ledger(ctx.session) == []


def test_r03_second_card_of_same_type_after_cancellation_pays_reissue_fee(ctx, make):
    first = make.card(P.UNDERGRADUATE, balance=1000)
    cancel_card(ctx, first.card_no)
    again = issue_card(ctx, first.person_id)
    assert again["fee"] == 2000
    assert card_by_no(ctx, again["card_no"]).card_account_id == first.card_account_id
    assert system_balance(ctx, AccountKind.CARD_FEES) == 2000
    assert check_ledger(ctx.session) == []


def test_r20_department_applies_only_for_its_own_people(ctx, make):
    person = make.person(P.OTHER)
    other = make.department()
    with writes_nothing(ctx.session), pytest.raises(NotAllowed) as refused:
        issue_card(
            ctx,
            person.id,
            valid_until=ctx.today + timedelta(days=30),
            applying_department_id=other.id,
        )
    assert CHINESE.search(refused.value.message("zh"))
    assert "own people" in refused.value.message("en")


def test_r20_own_department_may_apply(ctx, make):
    person = make.person(P.OTHER)
    result = issue_card(
        ctx,
        person.id,
        valid_until=ctx.today + timedelta(days=30),
        applying_department_id=person.department_id,
    )
    assert result["card_type"] == CardType.TEMPORARY


def test_issue_for_unknown_person_is_not_found(ctx):
    with writes_nothing(ctx.session), pytest.raises(NotFound):
        issue_card(ctx, 987654)


# --- R04 temporary card validity, R22 extension ------------------------------------------------


@pytest.mark.parametrize(
    ("working_until", "expires_on"),
    [
        (date(2026, 11, 27), date(2026, 11, 27)),  # a one-day visit
        (date(2027, 3, 31), date(2027, 3, 31)),
        (date(2027, 11, 27), date(2027, 11, 27)),  # exactly a year
        (date(2029, 7, 1), date(2027, 11, 27)),  # never more than a year from issue
    ],
)
def test_r04_temporary_expiry_is_working_period_capped_at_a_year(
    ctx, make, working_until, expires_on
):
    person = make.person(P.OTHER)
    result = issue_card(ctx, person.id, valid_until=working_until)
    assert result["expires_on"] == expires_on.isoformat()
    assert card_by_no(ctx, result["card_no"]).expires_on == expires_on


def test_r04_a_year_from_29_february_is_28_february(at, make):
    leap_day = at(datetime(2028, 2, 29, 10, 0))
    person = make.person(P.OTHER)
    result = issue_card(leap_day, person.id, valid_until=date(2030, 1, 1))
    assert result["expires_on"] == "2029-02-28"


@pytest.mark.parametrize("valid_until", [None, date(2026, 11, 26)])
def test_r04_temporary_card_needs_a_working_period_not_in_the_past(ctx, make, valid_until):
    person = make.person(P.OTHER)
    with writes_nothing(ctx.session), pytest.raises(InvalidInput):
        issue_card(ctx, person.id, valid_until=valid_until)


def test_r04_expired_card_cannot_pay_and_expire_cards_moves_it(ctx, at, make):
    card = make.card(P.OTHER, balance=1000)  # valid for 180 days
    canteen = make.terminal()
    later = at(ctx.now + timedelta(days=181))
    entries = snapshot(ctx.session)["journal_entries"]
    with pytest.raises(CardExpired) as expired:
        purchase(later, card.card_no, canteen, 300)
    assert CHINESE.search(expired.value.message("zh"))
    assert expire_cards(later) == [card.card_no]
    event = last_event(ctx, card.card_no)
    assert (event.from_state, event.to_state, event.channel) == (S.ACTIVE, S.EXPIRED, "system")
    with pytest.raises(CardNotActive):
        purchase(later, card.card_no, canteen, 300)
    assert snapshot(ctx.session)["journal_entries"] == entries
    assert expire_cards(later) == []  # nothing left to expire


def test_r04_card_works_on_its_last_day(ctx, at, make):
    card = make.card(P.OTHER, balance=1000)
    last_day = at(datetime.combine(card.expires_on, datetime.min.time()).replace(hour=20))
    assert expire_cards(last_day) == []
    assert purchase(last_day, card.card_no, make.terminal(), 300)["balance"] == 700


@pytest.mark.parametrize(
    ("from_state", "to_state"),
    [(S.ACTIVE, S.EXPIRED), (S.LOST, S.EXPIRED), (S.FROZEN, S.FROZEN)],
)
def test_r04_r05_expire_cards_by_state(ctx, at, make, from_state, to_state):
    card_no = issue_temporary(ctx, make, days=10)
    if from_state == S.LOST:
        report_loss(ctx, card_no, Channel.COUNTER)
    elif from_state == S.FROZEN:
        freeze_card(ctx, card_no, "violation")
    expire_cards(at(ctx.now + timedelta(days=11)))
    assert card_by_no(ctx, card_no).state == to_state


def test_r22_extension_is_capped_at_a_year_from_the_extension(ctx, at, make):
    card_no = issue_temporary(ctx, make, days=100)
    later = at(ctx.now + timedelta(days=60))
    result = extend_card(later, card_no, date(2030, 1, 1))
    assert result["expires_on"] == "2028-01-26"  # a year after 2027-01-26
    assert card_by_no(ctx, card_no).expires_on == date(2028, 1, 26)
    event = last_event(ctx, card_no)
    assert (event.reason, event.details) == (
        "extended",
        {"from": "2027-03-07", "to": "2028-01-26"},
    )


@pytest.mark.parametrize("days", [100, 50])  # same or earlier than the current expiry
def test_r22_extension_must_move_expiry_later(ctx, make, days):
    card_no = issue_temporary(ctx, make, days=100)
    with writes_nothing(ctx.session), pytest.raises(InvalidInput):
        extend_card(ctx, card_no, ctx.today + timedelta(days=days))
    assert card_by_no(ctx, card_no).expires_on == ctx.today + timedelta(days=100)


def test_r22_only_temporary_cards_extend(ctx, make):
    card = make.card(P.FACULTY)
    with writes_nothing(ctx.session), pytest.raises(NotAllowed):
        extend_card(ctx, card.card_no, ctx.today + timedelta(days=30))
    assert card.expires_on is None


def test_r22_extension_reactivates_an_expired_card(ctx, at, make):
    card = make.card(P.OTHER, balance=1000)
    later = at(ctx.now + timedelta(days=200))
    expire_cards(later)
    result = extend_card(later, card.card_no, later.today + timedelta(days=30))
    assert card_by_no(ctx, card.card_no).state == S.ACTIVE
    assert result["expires_on"] == (later.today + timedelta(days=30)).isoformat()
    event = last_event(ctx, card.card_no)
    assert (event.from_state, event.to_state, event.reason) == (S.EXPIRED, S.ACTIVE, "extended")
    assert purchase(later, card.card_no, make.terminal(), 300)["balance"] == 700
    assert check_ledger(ctx.session) == []


def test_r02_r22_expired_card_not_revived_beside_a_new_card(ctx, at, make):
    old = make.card(P.OTHER)
    later = at(ctx.now + timedelta(days=200))
    expire_cards(later)
    issue_card(later, old.person_id, valid_until=later.today + timedelta(days=30))
    with pytest.raises(OneCardPerPerson):
        extend_card(later, old.card_no, later.today + timedelta(days=60))
    assert card_by_no(ctx, old.card_no).state == S.EXPIRED


# --- R05 state transitions through the operations ---------------------------------------------

OPERATIONS = {
    "report_loss": (lambda c, no: report_loss(c, no, Channel.COUNTER), "counter"),
    "freeze": (lambda c, no: freeze_card(c, no, "using another's card"), "counter"),
    "lift_freeze": (lambda c, no: lift_freeze(c, no, "cleared"), "counter"),
    "unfreeze": (lambda c, no: unfreeze_card(c, no, Channel.COUNTER), "counter"),
    "extend": (lambda c, no: extend_card(c, no, c.today + timedelta(days=200)), "system"),
    "reissue": (lambda c, no: reissue_card(c, no), "counter"),
    "cancel": (lambda c, no: cancel_card(c, no), "counter"),
    "terminate": (lambda c, no: terminate_card(c, no, TerminationReason.LEFT), "system"),
}


def card_in_state(ctx, at, make, state: CardState) -> str:
    """A temporary card (every state is open to one) brought to `state` by the operations."""
    if state == S.EXPIRED:
        early = at(ctx.now - timedelta(days=60))
        card_no = issue_temporary(early, make, days=30)
        assert expire_cards(ctx) == [card_no]
        return card_no
    card_no = issue_temporary(ctx, make)
    setup = {
        S.LOST: "report_loss",
        S.FROZEN: "freeze",
        S.REPLACED: "reissue",
        S.CANCELLED: "cancel",
        S.TERMINATED: "terminate",
    }
    if state in setup:
        OPERATIONS[setup[state]][0](ctx, card_no)
    assert card_by_no(ctx, card_no).state == state
    return card_no


@pytest.mark.parametrize(
    ("from_state", "operation", "to_state"),
    [
        (S.ACTIVE, "report_loss", S.LOST),
        (S.ACTIVE, "freeze", S.FROZEN),
        (S.ACTIVE, "reissue", S.REPLACED),
        (S.ACTIVE, "cancel", S.CANCELLED),
        (S.ACTIVE, "terminate", S.TERMINATED),
        (S.LOST, "unfreeze", S.ACTIVE),
        (S.LOST, "reissue", S.REPLACED),
        (S.LOST, "cancel", S.CANCELLED),
        (S.LOST, "terminate", S.TERMINATED),
        (S.FROZEN, "lift_freeze", S.ACTIVE),
        (S.FROZEN, "cancel", S.CANCELLED),
        (S.FROZEN, "terminate", S.TERMINATED),
        (S.EXPIRED, "extend", S.ACTIVE),
        (S.EXPIRED, "cancel", S.CANCELLED),
        (S.EXPIRED, "terminate", S.TERMINATED),
    ],
)
def test_r05_allowed_transition_is_recorded(ctx, at, make, from_state, operation, to_state):
    card_no = card_in_state(ctx, at, make, from_state)
    clerk = at(ctx.now, actor="clerk:li")
    run, channel = OPERATIONS[operation]
    run(clerk, card_no)
    assert card_by_no(ctx, card_no).state == to_state
    event = last_event(ctx, card_no)
    assert (event.from_state, event.to_state) == (from_state, to_state)
    assert (event.actor, event.channel, event.at) == ("clerk:li", channel, ctx.now)
    assert event.reason
    assert check_ledger(ctx.session) == []


FINAL = (S.REPLACED, S.CANCELLED, S.TERMINATED)


@pytest.mark.parametrize(
    ("from_state", "operation"),
    [
        (S.ACTIVE, "unfreeze"),
        (S.ACTIVE, "lift_freeze"),
        (S.LOST, "report_loss"),
        (S.LOST, "freeze"),  # a lost card already cannot pay; lifting must not revive it
        (S.LOST, "lift_freeze"),
        (S.FROZEN, "report_loss"),
        (S.FROZEN, "freeze"),
        (S.FROZEN, "unfreeze"),
        (S.FROZEN, "reissue"),
        (S.EXPIRED, "report_loss"),
        (S.EXPIRED, "freeze"),
        (S.EXPIRED, "unfreeze"),
        (S.EXPIRED, "reissue"),
        *[(state, operation) for state in FINAL for operation in OPERATIONS],
    ],
)
def test_r05_refused_transition_changes_nothing(ctx, at, make, from_state, operation):
    card_no = card_in_state(ctx, at, make, from_state)
    with writes_nothing(ctx.session), pytest.raises(TransitionNotAllowed) as refused:
        OPERATIONS[operation][0](ctx, card_no)
    assert card_by_no(ctx, card_no).state == from_state
    assert card_no in refused.value.message("zh")


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_operations_on_unknown_card_are_not_found(ctx, operation):
    with writes_nothing(ctx.session), pytest.raises(NotFound) as missing:
        OPERATIONS[operation][0](ctx, "0000000000")
    assert missing.value.message("zh") == "未找到卡片：0000000000"


# --- R13 loss and unfreeze ---------------------------------------------------------------------


def test_r13_counter_loss_needs_no_password_and_stops_payment(ctx, make):
    card = make.card(balance=1000)
    canteen = make.terminal()
    assert report_loss(ctx, card.card_no, Channel.COUNTER)["state"] == "lost"
    with writes_nothing(ctx.session), pytest.raises(CardNotActive) as refused:
        purchase(ctx, card.card_no, canteen, 100)
    assert "挂失" in refused.value.message("zh")
    assert card_by_no(ctx, card.card_no).account.purse.balance == 1000


@pytest.mark.parametrize("channel", [Channel.KIOSK, Channel.WEB, Channel.PHONE, Channel.WECHAT])
def test_r13_self_service_loss_needs_the_query_password(ctx, make, channel):
    card = make.card()
    with writes_nothing(ctx.session):
        for wrong in (None, "000000"):
            with pytest.raises(WrongPassword):
                report_loss(ctx, card.card_no, channel, query_password=wrong)
    assert card_by_no(ctx, card.card_no).state == S.ACTIVE
    password = password_of(card)
    report_loss(ctx, card.card_no, channel, query_password=password)
    event = last_event(ctx, card.card_no)
    assert (event.to_state, event.channel) == (S.LOST, channel.value)


def test_r13_unfreeze_returns_a_found_card_to_active(ctx, make):
    card = make.card(balance=1000)
    canteen = make.terminal()
    password = password_of(card)
    report_loss(ctx, card.card_no, Channel.WEB, query_password=password)
    with pytest.raises(WrongPassword):
        unfreeze_card(ctx, card.card_no, Channel.WECHAT, query_password="999999")
    assert card_by_no(ctx, card.card_no).state == S.LOST
    unfreeze_card(ctx, card.card_no, Channel.WECHAT, query_password=password)
    event = last_event(ctx, card.card_no)
    assert (event.from_state, event.to_state, event.channel) == (S.LOST, S.ACTIVE, "wechat")
    assert purchase(ctx, card.card_no, canteen, 250)["balance"] == 750
    assert check_ledger(ctx.session) == []

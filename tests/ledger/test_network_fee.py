"""The network fee (R26): students registered with the network system and not suspended pay
1 to 4 weeks at a time from the card; a week already paid is refused."""

from datetime import date, datetime

import pytest

from ledger.check import check_ledger
from ledger.errors import (
    CardNotActive,
    Conflict,
    InsufficientBalance,
    InvalidInput,
    NotAllowed,
    NotFound,
    WrongPassword,
)
from ledger.models.accounts import AccountKind
from ledger.models.cards import Channel
from ledger.models.journal import EntryKind, JournalEntry
from ledger.models.people import NetworkStatus, PersonCategory
from ledger.ops.cards import report_loss
from ledger.ops.services import pay_network_fee
from tests.ledger.helpers import (
    balance,
    legs,
    password_of,
    system_account_id,
    writes_nothing,
    wrong,
)

FEE = 500  # a week (config default)
THIS_MONDAY = date(2026, 11, 23)  # `ctx` is Friday 27 November 2026


def pay(ctx, card, weeks):
    return pay_network_fee(ctx, card.card_no, weeks, query_password=password_of(card))


@pytest.fixture
def student(make):
    return make.card(balance=10_000, network_status=NetworkStatus.ACTIVE)


@pytest.mark.parametrize("weeks", [1, 2, 3, 4])
def test_r26_student_pays_one_to_four_weeks_from_the_purse(ctx, student, weeks):
    result = pay(ctx, student, weeks)
    assert result["amount"] == weeks * FEE
    assert result["weeks"] == [
        date.fromordinal(THIS_MONDAY.toordinal() + 7 * i).isoformat() for i in range(weeks)
    ]
    assert balance(ctx, student.account.purse_id) == 10_000 - weeks * FEE
    income = system_account_id(ctx, AccountKind.NETWORK_FEES)
    assert balance(ctx, income) == weeks * FEE
    entry = ctx.session.get(JournalEntry, result["entry_id"])
    assert (entry.kind, entry.amount, entry.card_id) == (
        EntryKind.NETWORK_FEE,
        weeks * FEE,
        student.id,
    )
    assert legs(ctx, entry.id) == [(student.account.purse_id, income, weeks * FEE)]
    assert check_ledger(ctx.session) == []


@pytest.mark.parametrize(
    "category",
    [
        PersonCategory.UNDERGRADUATE,
        PersonCategory.POSTGRADUATE,
        PersonCategory.INTERNATIONAL_STUDENT,
    ],
)
def test_r26_every_kind_of_student_may_pay(ctx, make, category):
    card = make.card(category, balance=FEE, network_status=NetworkStatus.ACTIVE)
    pay(ctx, card, 1)
    assert balance(ctx, card.account.purse_id) == 0


@pytest.mark.parametrize(
    "category",
    [
        PersonCategory.FACULTY,
        PersonCategory.POSTDOC,
        PersonCategory.RETIREE,
        PersonCategory.EMPLOYEE,
        PersonCategory.OTHER,
    ],
)
def test_r26_students_only(ctx, make, category):
    card = make.card(category, balance=10_000, network_status=NetworkStatus.ACTIVE)
    with writes_nothing(ctx.session), pytest.raises(NotAllowed):
        pay(ctx, card, 1)


@pytest.mark.parametrize("status", [NetworkStatus.UNREGISTERED, NetworkStatus.SUSPENDED])
def test_r26_registered_and_not_suspended_only(ctx, make, status):
    card = make.card(balance=10_000, network_status=status)
    with writes_nothing(ctx.session), pytest.raises(NotAllowed):
        pay(ctx, card, 1)


@pytest.mark.parametrize("weeks", [0, 5, -1, 52, 1.5, "2", True, None])
def test_r26_one_to_four_weeks_at_a_time(ctx, student, weeks):
    with writes_nothing(ctx.session), pytest.raises(InvalidInput):
        pay(ctx, student, weeks)


@pytest.mark.parametrize(
    ("first_weeks", "second_at", "second_weeks", "refused"),
    [
        (1, datetime(2026, 11, 27, 15, 0), 1, True),  # the same week again
        (2, datetime(2026, 12, 2, 10, 0), 1, True),  # next week, paid already
        (2, datetime(2026, 11, 28, 10, 0), 4, True),  # overlaps the weeks paid
        (2, datetime(2026, 12, 7, 10, 0), 4, False),  # from the Monday after the paid weeks
        (1, datetime(2026, 11, 29, 23, 59), 1, True),  # Sunday night: still the paid week
        (1, datetime(2026, 11, 30, 0, 1), 1, False),  # Monday 00:01 in Shanghai: a new week
    ],
)
def test_r26_a_week_already_paid_is_refused(
    ctx, at, student, first_weeks, second_at, second_weeks, refused
):
    pay(ctx, student, first_weeks)
    later = at(second_at)
    if refused:
        with writes_nothing(later.session), pytest.raises(Conflict):
            pay(later, student, second_weeks)
    else:
        pay(later, student, second_weeks)
        spent = (first_weeks + second_weeks) * FEE
        assert balance(later, student.account.purse_id) == 10_000 - spent
    assert check_ledger(later.session) == []


def test_r26_each_student_pays_their_own_weeks(ctx, make):
    cards = [make.card(balance=FEE, network_status=NetworkStatus.ACTIVE) for _ in range(2)]
    for card in cards:
        pay(ctx, card, 1)
    assert [balance(ctx, c.account.purse_id) for c in cards] == [0, 0]


def test_r26_fee_never_overdraws(ctx, make):
    card = make.card(balance=3 * FEE - 1, network_status=NetworkStatus.ACTIVE)
    with writes_nothing(ctx.session), pytest.raises(InsufficientBalance):
        pay(ctx, card, 3)


def test_r26_needs_the_query_password(ctx, student):
    with writes_nothing(ctx.session), pytest.raises(WrongPassword):
        pay_network_fee(ctx, student.card_no, 1, query_password=wrong(password_of(student)))


def test_r26_a_lost_card_cannot_pay(ctx, student):
    report_loss(ctx, student.card_no, Channel.COUNTER)
    with writes_nothing(ctx.session), pytest.raises(CardNotActive):
        pay(ctx, student, 1)


def test_r26_unknown_card_is_not_found(ctx):
    with pytest.raises(NotFound):
        pay_network_fee(ctx, "0000000000", 1, query_password="123456")

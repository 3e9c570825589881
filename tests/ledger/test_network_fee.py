"""The network fee (R26): students registered with the network system and not suspended pay
1 to 4 weeks at a time from the card; a week already paid is refused."""

from datetime import date, datetime

import pytest
from sqlalchemy import func, select

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
from ledger.models.accounts import LedgerAccount
from ledger.models.cards import Channel
from ledger.models.journal import EntryKind, JournalEntry, Posting
from ledger.models.money import NetworkFeeWeek
from ledger.models.people import NetworkStatus, PersonCategory
from ledger.ops.cards import report_loss
from ledger.ops.services import pay_network_fee
from ledger.passwords import initial_password

FEE = 500  # a week (config default)
THIS_MONDAY = date(2026, 11, 23)  # `ctx` is Friday 27 November 2026


def balance(ctx, account_id: int) -> int:
    return ctx.session.scalar(select(LedgerAccount.balance).where(LedgerAccount.id == account_id))


def ledger_state(ctx) -> tuple:
    """Journal size, paid weeks and every balance: unchanged means nothing was written."""
    session = ctx.session
    return (
        session.scalar(select(func.count()).select_from(JournalEntry)),
        session.scalar(select(func.count()).select_from(Posting)),
        session.scalar(select(func.count()).select_from(NetworkFeeWeek)),
        session.execute(select(LedgerAccount.id, LedgerAccount.balance).order_by("id")).all(),
    )


def pay(ctx, card, weeks):
    return pay_network_fee(
        ctx, card.card_no, weeks, query_password=initial_password(card.person.id_number)
    )


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
    income = ctx.session.scalar(
        select(LedgerAccount.id).where(LedgerAccount.code == "network_fees")
    )
    assert balance(ctx, income) == weeks * FEE
    entry = ctx.session.get(JournalEntry, result["entry_id"])
    assert (entry.kind, entry.amount, entry.card_id) == (
        EntryKind.NETWORK_FEE,
        weeks * FEE,
        student.id,
    )
    assert [(p.debit_id, p.credit_id, p.amount) for p in entry.postings] == [
        (student.account.purse_id, income, weeks * FEE)
    ]
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
    before = ledger_state(ctx)
    with pytest.raises(NotAllowed):
        pay(ctx, card, 1)
    assert ledger_state(ctx) == before


@pytest.mark.parametrize("status", [NetworkStatus.UNREGISTERED, NetworkStatus.SUSPENDED])
def test_r26_registered_and_not_suspended_only(ctx, make, status):
    card = make.card(balance=10_000, network_status=status)
    before = ledger_state(ctx)
    with pytest.raises(NotAllowed):
        pay(ctx, card, 1)
    assert ledger_state(ctx) == before


@pytest.mark.parametrize("weeks", [0, 5, -1, 52, 1.5, "2", True, None])
def test_r26_one_to_four_weeks_at_a_time(ctx, student, weeks):
    before = ledger_state(ctx)
    with pytest.raises(InvalidInput):
        pay(ctx, student, weeks)
    assert ledger_state(ctx) == before


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
    before = ledger_state(later)
    if refused:
        with pytest.raises(Conflict):
            pay(later, student, second_weeks)
        assert ledger_state(later) == before
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
    before = ledger_state(ctx)
    with pytest.raises(InsufficientBalance):
        pay(ctx, card, 3)
    assert ledger_state(ctx) == before


def test_r26_needs_the_query_password(ctx, student):
    wrong = f"{(int(initial_password(student.person.id_number)) + 1) % 10**6:06d}"
    before = ledger_state(ctx)
    with pytest.raises(WrongPassword):
        pay_network_fee(ctx, student.card_no, 1, query_password=wrong)
    assert ledger_state(ctx) == before


def test_r26_a_lost_card_cannot_pay(ctx, student):
    report_loss(ctx, student.card_no, Channel.COUNTER)
    before = ledger_state(ctx)
    with pytest.raises(CardNotActive):
        pay(ctx, student, 1)
    assert ledger_state(ctx) == before


def test_r26_unknown_card_is_not_found(ctx):
    with pytest.raises(NotFound):
        pay_network_fee(ctx, "0000000000", 1, query_password="123456")

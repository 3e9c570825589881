"""Reissue at the counter, by a delegate and at a student reissue kiosk: R03, R15-R17."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError

from ledger.check import check_ledger
from ledger.errors import (
    CardNotActive,
    InsufficientBalance,
    InvalidInput,
    NotAllowed,
    TransitionNotAllowed,
)
from ledger.models.accounts import AccountKind
from ledger.models.cards import Card, CardEvent, CardState, Channel, Delegation, EvidenceKind
from ledger.models.journal import EntryKind, JournalEntry, Posting
from ledger.models.merchants import MerchantCategory
from ledger.models.people import IdType, PersonCategory
from ledger.ops.cards import freeze_card, lift_freeze, report_loss, unfreeze_card
from ledger.ops.money import purchase
from ledger.ops.reissue import reissue_card
from tests.ledger.helpers import (
    card_by_no,
    last_event,
    system_account_id,
    system_balance,
    writes_nothing,
)

P, S = PersonCategory, CardState
DELEGATE = {
    "name": "李四",
    "id_type": IdType.RESIDENT_ID,
    "id_number": "110105198002023456",
    "evidence": EvidenceKind.WRITTEN_DELEGATION,
    "evidence_ref": "委托证明 2026-118",
}


def fee_legs(ctx) -> list[tuple[int, int, int]]:
    """(debit account, credit account, amount) of every card-fee posting."""
    return ctx.session.execute(
        select(Posting.debit_id, Posting.credit_id, Posting.amount)
        .join(JournalEntry)
        .where(JournalEntry.kind == EntryKind.CARD_FEE)
    ).all()


# --- R15 reissue at the counter ----------------------------------------------------------------


def test_r15_reissue_moves_account_and_balance_to_a_new_card(ctx, make):
    old = make.card(P.UNDERGRADUATE, balance=5000)
    report_loss(ctx, old.card_no, Channel.COUNTER)
    result = reissue_card(ctx, old.card_no)
    new = card_by_no(ctx, result["card_no"])
    assert new.card_no != old.card_no and result["replaces"] == old.card_no
    assert (new.state, new.card_type, new.replaces_id) == (S.ACTIVE, old.card_type, old.id)
    assert new.card_account_id == old.card_account_id
    assert new.account.purse.balance == 5000  # the fee was paid in cash
    assert card_by_no(ctx, old.card_no).state == S.REPLACED
    assert (result["fee"], result["balance"]) == (2000, 5000)
    cash = system_balance(ctx, AccountKind.CASH)
    fees = system_balance(ctx, AccountKind.CARD_FEES)
    assert fees == 2000 and cash == -5000 - 2000
    assert check_ledger(ctx.session) == []


@pytest.mark.parametrize(
    ("category", "fee"),
    [(P.FACULTY, 2000), (P.EMPLOYEE, 2000), (P.POSTGRADUATE, 2000), (P.OTHER, 2500)],
)
def test_r03_reissue_fee_by_card_type(ctx, make, category, fee):
    old = make.card(category)
    fees_before = system_balance(ctx, AccountKind.CARD_FEES)
    result = reissue_card(ctx, old.card_no)
    assert result["fee"] == fee
    assert system_balance(ctx, AccountKind.CARD_FEES) - fees_before == fee
    new = card_by_no(ctx, result["card_no"])
    assert new.expires_on == old.expires_on  # a temporary card keeps its expiry
    assert check_ledger(ctx.session) == []


def test_r15_fee_paid_from_the_balance_at_the_counter(ctx, make):
    old = make.card(P.FACULTY, balance=5000)
    result = reissue_card(ctx, old.card_no, fee_from_balance=True)
    purse = card_by_no(ctx, result["card_no"]).account.purse
    assert purse.balance == 3000
    assert fee_legs(ctx) == [
        (
            purse.id,
            system_account_id(ctx, AccountKind.CARD_FEES),
            2000,
        )
    ]
    assert check_ledger(ctx.session) == []


@pytest.mark.parametrize(
    ("channel", "category"),
    [(Channel.COUNTER, P.FACULTY), (Channel.REISSUE_KIOSK, P.UNDERGRADUATE)],
)
def test_r15_result_reports_the_balance_left_after_a_fee_from_the_balance(
    ctx, make, channel, category
):
    old = make.card(category, balance=5000)
    result = reissue_card(ctx, old.card_no, channel=channel, fee_from_balance=True)
    assert result["balance"] == card_by_no(ctx, result["card_no"]).account.purse.balance == 3000


def test_r15_fee_from_too_small_a_balance_is_refused(ctx, make):
    old = make.card(P.FACULTY, balance=1999)
    with writes_nothing(ctx.session), pytest.raises(InsufficientBalance):
        reissue_card(ctx, old.card_no, fee_from_balance=True)
    assert card_by_no(ctx, old.card_no).state == S.ACTIVE


def test_r15_old_card_cannot_pay_new_card_can(ctx, make):
    old = make.card(balance=1000)
    canteen = make.terminal()
    new_no = reissue_card(ctx, old.card_no)["card_no"]
    with writes_nothing(ctx.session), pytest.raises(CardNotActive):
        purchase(ctx, old.card_no, canteen, 100)
    assert purchase(ctx, new_no, canteen, 100)["balance"] == 900
    assert check_ledger(ctx.session) == []


@pytest.mark.parametrize(
    "undo",
    [
        lambda ctx, no: unfreeze_card(ctx, no, Channel.COUNTER),
        lambda ctx, no: unfreeze_card(ctx, no, Channel.WEB, query_password="120618"),
        lambda ctx, no: lift_freeze(ctx, no, "found"),
    ],
    ids=["unfreeze-counter", "unfreeze-web", "lift-freeze"],
)
def test_r15_replaced_card_can_never_be_unfrozen(ctx, make, undo):
    person = make.person(id_number="220102198812120618")
    old = make.card(person=person)
    report_loss(ctx, old.card_no, Channel.COUNTER)
    reissue_card(ctx, old.card_no)
    with writes_nothing(ctx.session), pytest.raises(TransitionNotAllowed) as refused:
        undo(ctx, old.card_no)
    assert "已补办作废" in refused.value.message("zh")
    assert card_by_no(ctx, old.card_no).state == S.REPLACED


def test_r15_database_refuses_reviving_a_replaced_card(ctx, make):
    old = make.card()
    reissue_card(ctx, old.card_no)
    revive = update(Card.__table__).where(Card.__table__.c.id == old.id).values(state="active")
    with pytest.raises(DBAPIError), ctx.session.begin_nested():
        ctx.session.execute(revive)
    state = ctx.session.scalar(select(Card.__table__.c.state).where(Card.__table__.c.id == old.id))
    assert state == "replaced"


def test_r15_frozen_card_is_not_reissued(ctx, make):
    old = make.card()
    freeze_card(ctx, old.card_no, "violation")
    with writes_nothing(ctx.session), pytest.raises(TransitionNotAllowed):
        reissue_card(ctx, old.card_no)


@pytest.mark.parametrize("channel", [Channel.WEB, Channel.KIOSK, Channel.POS])
def test_r15_reissue_only_at_counter_or_reissue_kiosk(ctx, make, channel):
    old = make.card(balance=5000)
    with writes_nothing(ctx.session), pytest.raises(NotAllowed):
        reissue_card(ctx, old.card_no, channel=channel)


# --- R15 the student reissue kiosk -------------------------------------------------------------


def test_r15_student_reissues_at_kiosk_fee_from_balance(ctx, make):
    old = make.card(P.UNDERGRADUATE, balance=2000)
    result = reissue_card(ctx, old.card_no, channel=Channel.REISSUE_KIOSK)
    new = card_by_no(ctx, result["card_no"])
    assert new.account.purse.balance == 0
    assert [amount for _, _, amount in fee_legs(ctx)] == [2000]
    assert system_balance(ctx, AccountKind.CARD_FEES) == 2000
    event = last_event(ctx, old.card_no)
    assert (event.to_state, event.channel) == (S.REPLACED, "reissue_kiosk")
    assert check_ledger(ctx.session) == []


def test_r15_kiosk_needs_twenty_yuan_on_the_card(ctx, make):
    old = make.card(P.UNDERGRADUATE, balance=1999)
    with writes_nothing(ctx.session), pytest.raises(InsufficientBalance) as refused:
        reissue_card(ctx, old.card_no, channel=Channel.REISSUE_KIOSK)
    assert "余额不足" in refused.value.message("zh")
    assert card_by_no(ctx, old.card_no).state == S.ACTIVE


@pytest.mark.parametrize("category", [P.FACULTY, P.EMPLOYEE, P.OTHER])
def test_r15_kiosk_refuses_all_but_students(ctx, make, category):
    old = make.card(category, balance=5000)
    with writes_nothing(ctx.session), pytest.raises(NotAllowed) as refused:
        reissue_card(ctx, old.card_no, channel=Channel.REISSUE_KIOSK)
    assert "中油大厦A座105室" in refused.value.message("zh")


def test_r15_r16_no_delegate_at_the_kiosk(ctx, make):
    old = make.card(P.UNDERGRADUATE, balance=5000)
    with writes_nothing(ctx.session), pytest.raises(NotAllowed):
        reissue_card(ctx, old.card_no, channel=Channel.REISSUE_KIOSK, delegate=DELEGATE)


# --- R16 delegated reissue ---------------------------------------------------------------------


def test_r16_delegate_identity_and_evidence_are_recorded(ctx, make):
    old = make.card(P.FACULTY)
    result = reissue_card(ctx, old.card_no, delegate=DELEGATE)
    assert result["delegated"] is True
    delegation = ctx.session.scalars(select(Delegation)).one()
    event = ctx.session.get(CardEvent, delegation.card_event_id)
    assert (event.card_id, event.to_state) == (old.id, S.REPLACED)
    assert (delegation.delegate_name, delegation.delegate_id_number) == (
        "李四",
        "110105198002023456",
    )
    assert delegation.evidence == EvidenceKind.WRITTEN_DELEGATION
    assert delegation.evidence_ref == "委托证明 2026-118"
    assert delegation.masked_delegate_id == "1101**********3456"


def test_r16_holders_own_id_is_valid_evidence(ctx, make):
    old = make.card(P.FACULTY)
    delegate = {**DELEGATE, "evidence": "holder_id", "evidence_ref": None}
    reissue_card(ctx, old.card_no, delegate=delegate)
    assert ctx.session.scalars(select(Delegation.evidence)).one() == EvidenceKind.HOLDER_ID


@pytest.mark.parametrize(
    "change",
    [
        {"evidence": None},
        {"evidence": "a phone call"},
        {"name": " "},
        {"id_number": ""},
        {"id_type": "driving_licence"},
        "holder's own id",
    ],
    ids=["no-evidence", "bad-evidence", "no-name", "no-id", "bad-id-type", "holder-id"],
)
def test_r16_incomplete_delegation_is_refused(ctx, make, change):
    old = make.card(P.FACULTY)
    if change == "holder's own id":
        change = {"id_number": old.person.id_number}
    with writes_nothing(ctx.session), pytest.raises(InvalidInput) as refused:
        reissue_card(ctx, old.card_no, delegate={**DELEGATE, **change})
    assert "代办" in refused.value.message("zh")
    assert card_by_no(ctx, old.card_no).state == S.ACTIVE


@pytest.mark.parametrize(("held", "given"), [("x", "X"), ("X", "x")])
def test_r16_holders_own_id_refused_whatever_the_case_of_x(ctx, make, held, given):
    holder = make.person(P.FACULTY, id_number=f"11010519900101123{held}")
    old = make.card(person=holder)
    with writes_nothing(ctx.session), pytest.raises(InvalidInput):
        reissue_card(
            ctx, old.card_no, delegate={**DELEGATE, "id_number": f"11010519900101123{given}"}
        )


# --- R17 the day of reissue --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "accepted"),
    [
        (MerchantCategory.LIBRARY, False),
        (MerchantCategory.HOSPITAL, False),
        (MerchantCategory.BUS, False),
        (MerchantCategory.CANTEEN, True),
        (MerchantCategory.SHOP, True),
    ],
)
def test_r17_reissued_card_blocked_at_some_merchants_that_day(ctx, at, make, category, accepted):
    old = make.card(balance=1000)
    terminal = make.terminal(make.merchant(category))
    new_no = reissue_card(ctx, old.card_no)["card_no"]
    if accepted:
        assert purchase(ctx, new_no, terminal, 100)["balance"] == 900
    else:
        with writes_nothing(ctx.session), pytest.raises(NotAllowed) as refused:
            purchase(ctx, new_no, terminal, 100)
        assert "补办当天" in refused.value.message("zh")
    tomorrow = at(ctx.now + timedelta(days=1))
    assert purchase(tomorrow, new_no, terminal, 100)["balance"] == (800 if accepted else 900)
    assert check_ledger(ctx.session) == []


def test_r17_a_first_issue_is_accepted_at_the_library_at_once(ctx, make):
    card = make.card(balance=1000)
    library = make.terminal(make.merchant(MerchantCategory.LIBRARY))
    assert purchase(ctx, card.card_no, library, 100)["balance"] == 900


@pytest.mark.parametrize(
    ("reissued_at", "used_at", "accepted"),
    [
        (datetime(2026, 11, 27, 23, 30), datetime(2026, 11, 28, 0, 10), True),
        (datetime(2026, 11, 28, 0, 30), datetime(2026, 11, 28, 10, 0), False),  # 16:30 UTC
        (datetime(2026, 11, 28, 0, 30), datetime(2026, 11, 29, 7, 0), True),
    ],
)
def test_r17_days_are_shanghai_calendar_days(at, make, reissued_at, used_at, accepted):
    old = make.card(balance=1000)
    library = make.terminal(make.merchant(MerchantCategory.LIBRARY))
    new_no = reissue_card(at(reissued_at), old.card_no)["card_no"]
    if accepted:
        purchase(at(used_at), new_no, library, 100)
    else:
        with pytest.raises(NotAllowed):
            purchase(at(used_at), new_no, library, 100)

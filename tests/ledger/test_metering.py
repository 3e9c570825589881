"""Pre-deducted metering at water and shower controllers (R10): hold on the first tap, settle
on the second, one open hold per cardholder, settled in full when left behind."""

from datetime import datetime

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from ledger.check import check_ledger
from ledger.errors import (
    CardNotActive,
    Conflict,
    InsufficientBalance,
    InvalidAmount,
    NotAllowed,
    NotFound,
)
from ledger.models.accounts import AccountKind
from ledger.models.cards import Channel
from ledger.models.journal import EntryKind, JournalEntry
from ledger.models.merchants import MerchantCategory, TerminalKind
from ledger.models.money import Hold, HoldState
from ledger.ops.cards import report_loss
from ledger.ops.merchants import disable_terminal, find_merchant
from ledger.ops.metering import pre_deduct, settle_hold
from ledger.ops.money import purchase
from ledger.ops.settlement import settle_merchant
from tests.ledger.helpers import (
    balance,
    legs,
    merchant_balance,
    system_account_id,
    system_balance,
    terminal_by_code,
    writes_nothing,
)


@pytest.fixture
def card(make):
    return make.card(balance=10_000)


@pytest.fixture
def shower(make):
    return make.terminal(kind=TerminalKind.SHOWER, category=MerchantCategory.BATHHOUSE)


@pytest.mark.parametrize("kind", [TerminalKind.WATER, TerminalKind.SHOWER])
def test_r10_pre_deduct_moves_the_amount_from_purse_to_holds(ctx, make, card, kind):
    controller = make.terminal(kind=kind, category=MerchantCategory.BATHHOUSE)
    result = pre_deduct(ctx, card.card_no, controller, 500)
    assert result["held"] == 500
    assert balance(ctx, card.account.purse_id) == 9500
    assert system_balance(ctx, AccountKind.HOLDS) == 500
    assert merchant_balance(ctx, controller) == 0
    assert legs(ctx, result["entry_id"]) == [
        (card.account.purse_id, system_account_id(ctx, AccountKind.HOLDS), 500)
    ]
    assert ctx.session.get(JournalEntry, result["entry_id"]).kind == EntryKind.HOLD
    hold = ctx.session.get(Hold, result["hold_id"])
    assert (hold.state, hold.amount, hold.used) == (HoldState.PENDING, 500, None)
    assert check_ledger(ctx.session) == []


@pytest.mark.parametrize("used", [0, 1, 120, 499, 500])
def test_r10_settle_hold_charges_what_was_used_and_returns_the_rest(ctx, card, water, used):
    hold_id = pre_deduct(ctx, card.card_no, water, 500)["hold_id"]
    result = settle_hold(ctx, card.card_no, water, used)
    assert (result["used"], result["returned"]) == (used, 500 - used)
    assert result["balance"] == 10_000 - used == balance(ctx, card.account.purse_id)
    assert merchant_balance(ctx, water) == used
    assert system_balance(ctx, AccountKind.HOLDS) == 0
    entry = ctx.session.get(JournalEntry, result["entry_id"])
    assert (entry.kind, entry.amount) == (EntryKind.HOLD_SETTLE, used)
    hold = ctx.session.get(Hold, hold_id)
    assert (hold.state, hold.used) == (HoldState.SETTLED, used)
    assert check_ledger(ctx.session) == []


def test_r10_another_controller_settles_the_open_hold_at_its_full_amount(ctx, card, water, shower):
    first = pre_deduct(ctx, card.card_no, water, 500)["hold_id"]
    pre_deduct(ctx, card.card_no, shower, 300)
    assert ctx.session.get(Hold, first).state == HoldState.SETTLED
    assert ctx.session.get(Hold, first).used == 500
    assert merchant_balance(ctx, water) == 500
    assert balance(ctx, card.account.purse_id) == 10_000 - 500 - 300
    assert system_balance(ctx, AccountKind.HOLDS) == 300
    # the first controller has nothing left to settle; the second settles as usual
    with pytest.raises(NotFound):
        settle_hold(ctx, card.card_no, water, 100)
    settle_hold(ctx, card.card_no, shower, 100)
    assert balance(ctx, card.account.purse_id) == 10_000 - 500 - 100
    assert (merchant_balance(ctx, water), merchant_balance(ctx, shower)) == (500, 100)
    assert check_ledger(ctx.session) == []


def test_r10_a_second_pre_deduct_at_the_same_controller_is_refused(ctx, card, water):
    pre_deduct(ctx, card.card_no, water, 500)
    with writes_nothing(ctx.session), pytest.raises(Conflict):
        pre_deduct(ctx, card.card_no, water, 500)


def test_r10_database_keeps_one_pending_hold_per_cardholder(ctx, card, water, shower):
    hold = ctx.session.get(Hold, pre_deduct(ctx, card.card_no, water, 500)["hold_id"])
    shower_id = terminal_by_code(ctx, shower).id
    with pytest.raises(IntegrityError), ctx.session.begin_nested():
        ctx.session.execute(
            insert(Hold).values(
                card_account_id=hold.card_account_id,
                card_id=hold.card_id,
                terminal_id=shower_id,
                amount=100,
                state=HoldState.PENDING,
                opened_at=ctx.now,
            )
        )


def test_r10_holds_of_different_cardholders_are_independent(ctx, make, water):
    cards = [make.card(balance=1000) for _ in range(2)]
    for card in cards:
        pre_deduct(ctx, card.card_no, water, 400)
    assert system_balance(ctx, AccountKind.HOLDS) == 800
    settle_hold(ctx, cards[0].card_no, water, 100)
    assert [balance(ctx, c.account.purse_id) for c in cards] == [900, 600]
    assert system_balance(ctx, AccountKind.HOLDS) == 400
    assert check_ledger(ctx.session) == []


def test_r10_a_pos_terminal_refuses_pre_deduct(ctx, card, make):
    pos = make.terminal()
    with writes_nothing(ctx.session), pytest.raises(NotAllowed):
        pre_deduct(ctx, card.card_no, pos, 500)


@pytest.mark.parametrize("controller", ["water", "shower"])
def test_r10_a_metering_terminal_refuses_purchase(request, ctx, card, controller):
    terminal = request.getfixturevalue(controller)
    with writes_nothing(ctx.session), pytest.raises(NotAllowed):
        purchase(ctx, card.card_no, terminal, 500)


def test_r10_pre_deduct_never_overdraws(ctx, make, water):
    card = make.card(balance=499)
    with writes_nothing(ctx.session), pytest.raises(InsufficientBalance):
        pre_deduct(ctx, card.card_no, water, 500)


@pytest.mark.parametrize("used", [501, -1, 1.5, "100", True, None])
def test_r10_settle_hold_refuses_more_than_was_held_or_bad_amounts(ctx, card, water, used):
    pre_deduct(ctx, card.card_no, water, 500)
    with writes_nothing(ctx.session), pytest.raises(InvalidAmount):
        settle_hold(ctx, card.card_no, water, used)


def test_r10_settle_hold_without_an_open_hold_is_not_found(ctx, card, water, shower):
    with pytest.raises(NotFound):
        settle_hold(ctx, card.card_no, water, 0)
    pre_deduct(ctx, card.card_no, water, 500)
    with writes_nothing(ctx.session):
        for card_no, terminal in ((card.card_no, shower), (card.card_no, "T-NONE")):
            with pytest.raises(NotFound):
                settle_hold(ctx, card_no, terminal, 0)


def test_r10_a_hold_settled_twice_is_not_found_the_second_time(ctx, card, water):
    pre_deduct(ctx, card.card_no, water, 500)
    settle_hold(ctx, card.card_no, water, 200)
    with writes_nothing(ctx.session), pytest.raises(NotFound):
        settle_hold(ctx, card.card_no, water, 200)
    assert balance(ctx, card.account.purse_id) == 9800


def test_r10_a_lost_card_cannot_start_a_pre_deduction(ctx, card, water):
    report_loss(ctx, card.card_no, Channel.COUNTER)
    with writes_nothing(ctx.session), pytest.raises(CardNotActive):
        pre_deduct(ctx, card.card_no, water, 500)


def test_r10_a_disabled_controller_refuses_pre_deduct(ctx, card, water):
    disable_terminal(ctx, water)
    with writes_nothing(ctx.session), pytest.raises(NotAllowed):
        pre_deduct(ctx, card.card_no, water, 500)


def test_r10_hold_settlements_count_as_the_merchants_turnover(ctx, at, card, make):
    merchant = make.merchant(MerchantCategory.BATHHOUSE, commercial=True)
    shower = make.terminal(merchant, kind=TerminalKind.SHOWER)
    pre_deduct(ctx, card.card_no, shower, 3000)
    settle_hold(ctx, card.card_no, shower, 2000)
    result = settle_merchant(at(datetime(2026, 11, 30, 10, 0)), merchant.code)
    assert (result["turnover"], result["fee"], result["payout"]) == (2000, 10, 1990)
    assert balance(ctx, find_merchant(ctx, merchant.code).account_id) == 0


# Bad input


def test_pre_deduct_with_an_unknown_card_or_terminal_is_not_found(ctx, card, water):
    with writes_nothing(ctx.session):
        for card_no, terminal in (("0000000000", water), (card.card_no, "T-NONE")):
            with pytest.raises(NotFound):
                pre_deduct(ctx, card_no, terminal, 500)


@pytest.mark.parametrize("amount", [0, -1, 1.5, 100.0, "100", True, None, 1_000_001])
def test_pre_deduct_with_an_invalid_amount_is_refused(ctx, card, water, amount):
    with writes_nothing(ctx.session), pytest.raises(InvalidAmount):
        pre_deduct(ctx, card.card_no, water, amount)

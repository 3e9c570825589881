"""Pre-deducted metering at water and shower controllers (R10): hold on the first tap, settle
on the second, one open hold per cardholder, settled in full when left behind."""

from datetime import datetime

import pytest
from sqlalchemy import func, insert, select
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
from ledger.models.accounts import LedgerAccount
from ledger.models.cards import Channel
from ledger.models.journal import EntryKind, JournalEntry, Posting
from ledger.models.merchants import MerchantCategory, Terminal, TerminalKind
from ledger.models.money import Hold, HoldState
from ledger.ops.cards import report_loss
from ledger.ops.merchants import disable_terminal, find_merchant
from ledger.ops.metering import pre_deduct, settle_hold
from ledger.ops.money import purchase
from ledger.ops.settlement import settle_merchant


def balance(ctx, account_id: int) -> int:
    return ctx.session.scalar(select(LedgerAccount.balance).where(LedgerAccount.id == account_id))


def holds_balance(ctx) -> int:
    return ctx.session.scalar(select(LedgerAccount.balance).where(LedgerAccount.code == "holds"))


def merchant_balance(ctx, terminal_code: str) -> int:
    terminal = ctx.session.scalar(select(Terminal).where(Terminal.code == terminal_code))
    return balance(ctx, terminal.merchant.account_id)


def ledger_state(ctx) -> tuple:
    """Journal size, holds and every balance: unchanged means nothing was written."""
    session = ctx.session
    return (
        session.scalar(select(func.count()).select_from(JournalEntry)),
        session.scalar(select(func.count()).select_from(Posting)),
        session.execute(select(Hold.id, Hold.state, Hold.used).order_by("id")).all(),
        session.execute(select(LedgerAccount.id, LedgerAccount.balance).order_by("id")).all(),
    )


def legs(ctx, entry_id: int) -> list[tuple[int, int, int]]:
    entry = ctx.session.get(JournalEntry, entry_id)
    return sorted((p.debit_id, p.credit_id, p.amount) for p in entry.postings)


def holds_id(ctx) -> int:
    return ctx.session.scalar(select(LedgerAccount.id).where(LedgerAccount.code == "holds"))


@pytest.fixture
def card(make):
    return make.card(balance=10_000)


@pytest.fixture
def water(make):
    return make.terminal(kind=TerminalKind.WATER, category=MerchantCategory.WATER)


@pytest.fixture
def shower(make):
    return make.terminal(kind=TerminalKind.SHOWER, category=MerchantCategory.BATHHOUSE)


@pytest.mark.parametrize("kind", [TerminalKind.WATER, TerminalKind.SHOWER])
def test_r10_pre_deduct_moves_the_amount_from_purse_to_holds(ctx, make, card, kind):
    controller = make.terminal(kind=kind, category=MerchantCategory.BATHHOUSE)
    result = pre_deduct(ctx, card.card_no, controller, 500)
    assert result["held"] == 500
    assert balance(ctx, card.account.purse_id) == 9500
    assert holds_balance(ctx) == 500
    assert merchant_balance(ctx, controller) == 0
    assert legs(ctx, result["entry_id"]) == [(card.account.purse_id, holds_id(ctx), 500)]
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
    assert holds_balance(ctx) == 0
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
    assert holds_balance(ctx) == 300
    # the first controller has nothing left to settle; the second settles as usual
    with pytest.raises(NotFound):
        settle_hold(ctx, card.card_no, water, 100)
    settle_hold(ctx, card.card_no, shower, 100)
    assert balance(ctx, card.account.purse_id) == 10_000 - 500 - 100
    assert (merchant_balance(ctx, water), merchant_balance(ctx, shower)) == (500, 100)
    assert check_ledger(ctx.session) == []


def test_r10_a_second_pre_deduct_at_the_same_controller_is_refused(ctx, card, water):
    pre_deduct(ctx, card.card_no, water, 500)
    before = ledger_state(ctx)
    with pytest.raises(Conflict):
        pre_deduct(ctx, card.card_no, water, 500)
    assert ledger_state(ctx) == before


def test_r10_database_keeps_one_pending_hold_per_cardholder(ctx, card, water, shower):
    hold = ctx.session.get(Hold, pre_deduct(ctx, card.card_no, water, 500)["hold_id"])
    shower_id = ctx.session.scalar(select(Terminal.id).where(Terminal.code == shower))
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
    assert holds_balance(ctx) == 800
    settle_hold(ctx, cards[0].card_no, water, 100)
    assert [balance(ctx, c.account.purse_id) for c in cards] == [900, 600]
    assert holds_balance(ctx) == 400
    assert check_ledger(ctx.session) == []


def test_r10_a_pos_terminal_refuses_pre_deduct(ctx, card, make):
    pos = make.terminal()
    before = ledger_state(ctx)
    with pytest.raises(NotAllowed):
        pre_deduct(ctx, card.card_no, pos, 500)
    assert ledger_state(ctx) == before


@pytest.mark.parametrize("controller", ["water", "shower"])
def test_r10_a_metering_terminal_refuses_purchase(request, ctx, card, controller):
    terminal = request.getfixturevalue(controller)
    before = ledger_state(ctx)
    with pytest.raises(NotAllowed):
        purchase(ctx, card.card_no, terminal, 500)
    assert ledger_state(ctx) == before


def test_r10_pre_deduct_never_overdraws(ctx, make, water):
    card = make.card(balance=499)
    before = ledger_state(ctx)
    with pytest.raises(InsufficientBalance):
        pre_deduct(ctx, card.card_no, water, 500)
    assert ledger_state(ctx) == before


@pytest.mark.parametrize("used", [501, -1, 1.5, "100", True, None])
def test_r10_settle_hold_refuses_more_than_was_held_or_bad_amounts(ctx, card, water, used):
    pre_deduct(ctx, card.card_no, water, 500)
    before = ledger_state(ctx)
    with pytest.raises(InvalidAmount):
        settle_hold(ctx, card.card_no, water, used)
    assert ledger_state(ctx) == before


def test_r10_settle_hold_without_an_open_hold_is_not_found(ctx, card, water, shower):
    with pytest.raises(NotFound):
        settle_hold(ctx, card.card_no, water, 0)
    pre_deduct(ctx, card.card_no, water, 500)
    before = ledger_state(ctx)
    for card_no, terminal in ((card.card_no, shower), (card.card_no, "T-NONE")):
        with pytest.raises(NotFound):
            settle_hold(ctx, card_no, terminal, 0)
    assert ledger_state(ctx) == before


def test_r10_a_hold_settled_twice_is_not_found_the_second_time(ctx, card, water):
    pre_deduct(ctx, card.card_no, water, 500)
    settle_hold(ctx, card.card_no, water, 200)
    before = ledger_state(ctx)
    with pytest.raises(NotFound):
        settle_hold(ctx, card.card_no, water, 200)
    assert ledger_state(ctx) == before
    assert balance(ctx, card.account.purse_id) == 9800


def test_r10_a_lost_card_cannot_start_a_pre_deduction(ctx, card, water):
    report_loss(ctx, card.card_no, Channel.COUNTER)
    before = ledger_state(ctx)
    with pytest.raises(CardNotActive):
        pre_deduct(ctx, card.card_no, water, 500)
    assert ledger_state(ctx) == before


def test_r10_a_disabled_controller_refuses_pre_deduct(ctx, card, water):
    disable_terminal(ctx, water)
    before = ledger_state(ctx)
    with pytest.raises(NotAllowed):
        pre_deduct(ctx, card.card_no, water, 500)
    assert ledger_state(ctx) == before


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
    before = ledger_state(ctx)
    for card_no, terminal in (("0000000000", water), (card.card_no, "T-NONE")):
        with pytest.raises(NotFound):
            pre_deduct(ctx, card_no, terminal, 500)
    assert ledger_state(ctx) == before


@pytest.mark.parametrize("amount", [0, -1, 1.5, 100.0, "100", True, None, 1_000_001])
def test_pre_deduct_with_an_invalid_amount_is_refused(ctx, card, water, amount):
    before = ledger_state(ctx)
    with pytest.raises(InvalidAmount):
        pre_deduct(ctx, card.card_no, water, amount)
    assert ledger_state(ctx) == before

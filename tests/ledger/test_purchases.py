"""Purchases: the daily limit and consumption password (R07), no overdraft (R08), the
merchant credited (R11), and bad input refused with nothing written."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from ledger.check import check_ledger
from ledger.errors import (
    CardNotActive,
    InsufficientBalance,
    InvalidAmount,
    InvalidInput,
    NotAllowed,
    NotFound,
    PasswordRequired,
    WrongPassword,
)
from ledger.models.accounts import CardAccount
from ledger.models.cards import Channel
from ledger.models.journal import EntryKind, JournalEntry
from ledger.ops.cards import freeze_card, report_loss
from ledger.ops.money import purchase
from ledger.ops.services import PasswordKind, change_daily_limit, change_password
from tests.ledger.helpers import balance, legs, password_of, writes_nothing, wrong


def daily_limit(ctx, card) -> int:
    return ctx.session.scalar(
        select(CardAccount.daily_limit).where(CardAccount.id == card.card_account_id)
    )


@pytest.fixture
def card(make):
    return make.card(balance=100_000)


# R07: the daily limit and the consumption password


@pytest.mark.parametrize("amounts", [(5000,), (2000, 3000), (1, 4999), (4999,)])
def test_r07_purchases_up_to_the_default_limit_need_no_password(ctx, card, pos, amounts):
    for amount in amounts:
        purchase(ctx, card.card_no, pos, amount)
    assert balance(ctx, card.account.purse_id) == 100_000 - sum(amounts)
    assert check_ledger(ctx.session) == []


@pytest.mark.parametrize(("spent", "amount"), [(0, 5001), (5000, 1), (4000, 1001), (0, 20000)])
def test_r07_above_the_limit_without_password_raises_password_required(
    ctx, card, pos, spent, amount
):
    if spent:
        purchase(ctx, card.card_no, pos, spent)
    with writes_nothing(ctx.session), pytest.raises(PasswordRequired):
        purchase(ctx, card.card_no, pos, amount)


def test_r07_above_the_limit_with_a_wrong_password_raises_wrong_password(ctx, card, pos):
    purchase(ctx, card.card_no, pos, 4000)
    with writes_nothing(ctx.session), pytest.raises(WrongPassword):
        purchase(ctx, card.card_no, pos, 1001, consume_password=wrong(password_of(card)))


def test_r07_above_the_limit_with_the_right_password_succeeds(ctx, card, pos):
    purchase(ctx, card.card_no, pos, 4000)
    result = purchase(ctx, card.card_no, pos, 3000, consume_password=password_of(card))
    assert result["balance"] == 93_000
    assert balance(ctx, card.account.purse_id) == 93_000
    # the day's total stays above the limit: the next purchase needs the password too
    with pytest.raises(PasswordRequired):
        purchase(ctx, card.card_no, pos, 1)
    assert check_ledger(ctx.session) == []


def test_r07_the_consumption_password_is_the_one_the_holder_set(ctx, card, pos):
    change_password(ctx, card.card_no, PasswordKind.CONSUME, password_of(card), "246810")
    with pytest.raises(WrongPassword):
        purchase(ctx, card.card_no, pos, 6000, consume_password=password_of(card))
    purchase(ctx, card.card_no, pos, 6000, consume_password="246810")
    assert balance(ctx, card.account.purse_id) == 94_000


@pytest.mark.parametrize(
    ("first", "second", "error"),
    [
        # 23:59 and 00:01 Shanghai on two calendar days: the total starts again
        (
            datetime(2026, 11, 28, 15, 59, tzinfo=UTC),
            datetime(2026, 11, 28, 16, 1, tzinfo=UTC),
            None,
        ),
        (datetime(2026, 11, 28, 23, 59), datetime(2026, 11, 29, 0, 1), None),
        # 00:01 and 23:59 Shanghai on one calendar day (two UTC dates): still the same day
        (
            datetime(2026, 11, 27, 16, 1, tzinfo=UTC),
            datetime(2026, 11, 28, 15, 59, tzinfo=UTC),
            PasswordRequired,
        ),
        (datetime(2026, 11, 28, 0, 1), datetime(2026, 11, 28, 23, 59), PasswordRequired),
    ],
)
def test_r07_daily_total_resets_at_shanghai_midnight(at, card, pos, first, second, error):
    purchase(at(first), card.card_no, pos, 5000)
    if error is None:
        result = purchase(at(second), card.card_no, pos, 5000)
        assert result["balance"] == 90_000
    else:
        with pytest.raises(error):
            purchase(at(second), card.card_no, pos, 1)


@pytest.mark.parametrize("new_limit", [0, 1, 10_000, 60_000])
def test_r07_change_daily_limit_at_a_kiosk_with_the_consumption_password(ctx, card, pos, new_limit):
    result = change_daily_limit(
        ctx, card.card_no, new_limit, channel=Channel.KIOSK, consume_password=password_of(card)
    )
    assert result["daily_limit"] == new_limit == daily_limit(ctx, card)
    if new_limit:
        purchase(ctx, card.card_no, pos, new_limit)
    with pytest.raises(PasswordRequired):
        purchase(ctx, card.card_no, pos, 1)


@pytest.mark.parametrize("new_limit", [60_001, 100_000, -1, 1.5, "6000", True, None])
def test_r07_daily_limit_above_60000_or_not_whole_fen_refused(ctx, card, new_limit):
    with pytest.raises(InvalidInput):
        change_daily_limit(
            ctx, card.card_no, new_limit, channel=Channel.KIOSK, consume_password=password_of(card)
        )
    assert daily_limit(ctx, card) == 5000


@pytest.mark.parametrize("channel", [c for c in Channel if c != Channel.KIOSK])
def test_r07_daily_limit_changed_only_at_a_kiosk(ctx, card, channel):
    with pytest.raises(NotAllowed):
        change_daily_limit(
            ctx, card.card_no, 10_000, channel=channel, consume_password=password_of(card)
        )
    assert daily_limit(ctx, card) == 5000


def test_r07_daily_limit_change_needs_the_consumption_password(ctx, card):
    for given in (None, wrong(password_of(card))):
        with pytest.raises(WrongPassword):
            change_daily_limit(
                ctx, card.card_no, 10_000, channel=Channel.KIOSK, consume_password=given
            )
    # the query password does not do once the two differ
    change_password(ctx, card.card_no, PasswordKind.CONSUME, password_of(card), "135790")
    with pytest.raises(WrongPassword):
        change_daily_limit(
            ctx, card.card_no, 10_000, channel=Channel.KIOSK, consume_password=password_of(card)
        )
    assert daily_limit(ctx, card) == 5000


# R08: no overdraft


@pytest.mark.parametrize(("funds", "amount"), [(1000, 1001), (0, 1), (4999, 5000)])
def test_r08_purchase_never_overdraws(ctx, make, pos, funds, amount):
    card = make.card(balance=funds)
    with writes_nothing(ctx.session), pytest.raises(InsufficientBalance):
        purchase(ctx, card.card_no, pos, amount)
    assert balance(ctx, card.account.purse_id) == funds


def test_r08_purchase_may_spend_the_whole_balance(ctx, make, pos):
    card = make.card(balance=1234)
    assert purchase(ctx, card.card_no, pos, 1234)["balance"] == 0
    assert balance(ctx, card.account.purse_id) == 0
    assert check_ledger(ctx.session) == []


@pytest.mark.parametrize("column", ["purse_id", "transitional_id"])
def test_r08_database_refuses_a_negative_cardholder_balance(ctx, card, column):
    account_id = getattr(card.account, column)
    with pytest.raises(IntegrityError), ctx.session.begin_nested():
        ctx.session.execute(
            text("UPDATE ledger_accounts SET balance = -1 WHERE id = :id"), {"id": account_id}
        )
    assert balance(ctx, card.account.purse_id) == 100_000


@pytest.mark.parametrize(
    ("kind", "refused"), [("holds", True), ("refunds", True), ("merchant", False)]
)
def test_r08_r11_only_a_merchant_may_owe(ctx, kind, refused):
    """Internal accounts never go negative, but a merchant may owe the office after an
    adjustment larger than what it holds (R11); the next settlement recovers it."""
    ctx.session.execute(
        text("INSERT INTO ledger_accounts (kind, balance) VALUES (:k, 0)"), {"k": kind}
    )
    statement = text("UPDATE ledger_accounts SET balance = -1 WHERE kind = :k")
    if refused:
        with pytest.raises(IntegrityError), ctx.session.begin_nested():
            ctx.session.execute(statement, {"k": kind})
    else:
        ctx.session.execute(statement, {"k": kind})


# R11: purchases credit the merchant


def test_r11_purchase_moves_money_from_purse_to_merchant(ctx, card, make):
    merchant = make.merchant()
    terminal = make.terminal(merchant)
    result = purchase(ctx, card.card_no, terminal, 1200)
    assert result["merchant"] == merchant.code
    assert balance(ctx, card.account.purse_id) == 98_800
    assert balance(ctx, merchant.account_id) == 1200
    entry = ctx.session.get(JournalEntry, result["entry_id"])
    assert (entry.kind, entry.amount, entry.card_id, entry.merchant_id) == (
        EntryKind.PURCHASE,
        1200,
        card.id,
        merchant.id,
    )
    assert entry.terminal_id is not None
    assert legs(ctx, entry.id) == [(card.account.purse_id, merchant.account_id, 1200)]
    assert check_ledger(ctx.session) == []


# Refusals and bad input


def test_purchase_with_an_unknown_card_is_not_found(ctx, pos):
    with writes_nothing(ctx.session), pytest.raises(NotFound):
        purchase(ctx, "0000000000", pos, 100)


def test_purchase_at_an_unknown_terminal_is_not_found(ctx, card):
    with writes_nothing(ctx.session), pytest.raises(NotFound):
        purchase(ctx, card.card_no, "T-NONE", 100)


@pytest.mark.parametrize("amount", [0, -1, -500, 1.5, 100.0, "100", True, False, None, 1_000_001])
def test_purchase_with_an_invalid_amount_is_refused(ctx, card, pos, amount):
    with writes_nothing(ctx.session), pytest.raises(InvalidAmount):
        purchase(ctx, card.card_no, pos, amount)


def test_purchase_of_the_maximum_amount_is_accepted(ctx, make, pos):
    card = make.card(balance=1_000_000)
    result = purchase(ctx, card.card_no, pos, 1_000_000, consume_password=password_of(card))
    assert result["balance"] == 0


@pytest.mark.parametrize("stop", [report_loss, freeze_card])
def test_r05_purchase_with_a_card_not_active_is_refused(ctx, card, pos, stop):
    stop(ctx, card.card_no, Channel.COUNTER if stop is report_loss else "violation")
    with writes_nothing(ctx.session), pytest.raises(CardNotActive):
        purchase(ctx, card.card_no, pos, 100)

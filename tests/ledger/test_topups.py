"""Top-ups (R09): cash in counter hours, bank transfers from a bound card, WeChat through the
transitional balance; which cards take money; bad input refused with nothing written."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from ledger.check import check_ledger
from ledger.errors import (
    CardNotActive,
    InvalidAmount,
    InvalidInput,
    NotAllowed,
    NotFound,
    WrongPassword,
)
from ledger.models.accounts import AccountKind, CardAccount
from ledger.models.cards import Channel
from ledger.models.journal import EntryKind, JournalEntry
from ledger.models.merchants import MerchantCategory, TerminalKind
from ledger.ops.cards import report_loss
from ledger.ops.closing import cancel_card
from ledger.ops.money import TopUpMethod, claim_transitional, top_up
from ledger.ops.services import bind_bank_card
from tests.ledger.helpers import (
    balance,
    legs,
    password_of,
    system_account_id,
    system_balance,
    writes_nothing,
    wrong,
)

BANK_CARD = "6216610000123456780"  # Luhn-valid, 19 digits
SATURDAY_NIGHT = datetime(2026, 11, 28, 23, 30)


def bound_bank_card(ctx, card) -> str | None:
    return ctx.session.scalar(
        select(CardAccount.bank_card_no).where(CardAccount.id == card.card_account_id)
    )


@pytest.fixture
def card(make):
    return make.card()


# Cash at the counter


@pytest.mark.parametrize(
    ("moment", "open_"),
    [
        (datetime(2026, 11, 27, 7, 59), False),
        (datetime(2026, 11, 27, 8, 0), True),
        (datetime(2026, 11, 27, 11, 29), True),
        (datetime(2026, 11, 27, 11, 31), False),
        (datetime(2026, 11, 27, 12, 30), False),
        (datetime(2026, 11, 27, 13, 59), False),
        (datetime(2026, 11, 27, 14, 0), True),
        (datetime(2026, 11, 27, 16, 59), True),
        (datetime(2026, 11, 27, 17, 1), False),
        (datetime(2026, 11, 30, 9, 0), True),  # Monday
        (datetime(2026, 11, 28, 10, 0), False),  # Saturday
        (datetime(2026, 11, 29, 15, 0), False),  # Sunday
        (datetime(2026, 11, 27, 2, 0, tzinfo=UTC), True),  # 10:00 in Shanghai
        (datetime(2026, 11, 27, 10, 0, tzinfo=UTC), False),  # 18:00 in Shanghai
        (datetime(2026, 11, 28, 1, 0, tzinfo=UTC), False),  # Saturday 09:00 in Shanghai
    ],
)
def test_r09_cash_top_up_only_in_counter_hours(at, card, moment, open_):
    ctx = at(moment)
    if open_:
        result = top_up(ctx, card.card_no, 5000, TopUpMethod.CASH)
        assert result["balance"] == 5000 == balance(ctx, card.account.purse_id)
        entry = ctx.session.get(JournalEntry, result["entry_id"])
        cash = system_account_id(ctx, AccountKind.CASH)
        assert entry.kind == EntryKind.TOPUP_CASH
        assert legs(ctx, entry.id) == [(cash, card.account.purse_id, 5000)]
        assert check_ledger(ctx.session) == []
    else:
        with writes_nothing(ctx.session), pytest.raises(NotAllowed):
            top_up(ctx, card.card_no, 5000, TopUpMethod.CASH)


# Bank transfers from a bound card


def test_r09_bank_top_up_needs_a_bound_card(ctx, card):
    with writes_nothing(ctx.session), pytest.raises(NotAllowed):
        top_up(ctx, card.card_no, 5000, TopUpMethod.BANK)


@pytest.mark.parametrize("number", [BANK_CARD, "6216 6100 0012 3456 780", "6217850000123459"])
def test_r09_bind_bank_card_then_top_up_from_it(at, card, number):
    ctx = at(SATURDAY_NIGHT)  # kiosk binding and transfers are not bound to counter hours
    result = bind_bank_card(ctx, card.card_no, number, query_password=password_of(card))
    digits = number.replace(" ", "")
    assert result["bank_card"] == "*" * (len(digits) - 4) + digits[-4:]
    assert bound_bank_card(ctx, card) == digits
    result = top_up(ctx, card.card_no, 8000, TopUpMethod.BANK)
    assert result["balance"] == 8000
    assert ctx.session.get(JournalEntry, result["entry_id"]).kind == EntryKind.TOPUP_BANK
    assert system_balance(ctx, AccountKind.BANK) == -8000
    assert check_ledger(ctx.session) == []


@pytest.mark.parametrize(
    "number",
    [
        "6216610000123456781",  # check digit off by one
        "6216610000123456708",  # two digits swapped
        "621785000012345",  # 15 digits
        "62166100001234567807",  # 20 digits
        "621661000012345678X",
        "",
    ],
)
def test_r09_bind_bank_card_refuses_an_invalid_number(ctx, card, number):
    with pytest.raises(InvalidInput):
        bind_bank_card(ctx, card.card_no, number, query_password=password_of(card))
    assert bound_bank_card(ctx, card) is None


def test_r09_bind_bank_card_needs_the_query_password(ctx, card):
    with pytest.raises(WrongPassword):
        bind_bank_card(ctx, card.card_no, BANK_CARD, query_password=wrong(password_of(card)))
    assert bound_bank_card(ctx, card) is None


# WeChat through the transitional balance


def test_r09_wechat_top_up_lands_in_the_transitional_balance(at, card, make):
    ctx = at(SATURDAY_NIGHT)
    pos = make.terminal()
    result = top_up(ctx, card.card_no, 3000, TopUpMethod.WECHAT)
    assert (result["balance"], result["transitional"]) == (0, 3000)
    assert balance(ctx, card.account.purse_id) == 0
    assert balance(ctx, card.account.transitional_id) == 3000
    assert ctx.session.get(JournalEntry, result["entry_id"]).kind == EntryKind.TOPUP_WECHAT
    assert system_balance(ctx, AccountKind.WECHAT) == -3000

    claimed = claim_transitional(ctx, card.card_no, pos)
    assert (claimed["claimed"], claimed["balance"]) == (3000, 3000)
    assert balance(ctx, card.account.purse_id) == 3000
    assert balance(ctx, card.account.transitional_id) == 0
    entry = ctx.session.get(JournalEntry, claimed["entry_id"])
    assert entry.kind == EntryKind.CLAIM_TRANSITIONAL
    assert legs(ctx, entry.id) == [(card.account.transitional_id, card.account.purse_id, 3000)]
    assert check_ledger(ctx.session) == []


def test_r09_claim_with_nothing_pending_writes_nothing(ctx, make):
    card, pos = make.card(balance=500), make.terminal()
    with writes_nothing(ctx.session):
        result = claim_transitional(ctx, card.card_no, pos)
        assert (result["claimed"], result["balance"], result["entry_id"]) == (0, 500, None)


def test_r09_several_wechat_top_ups_are_claimed_together(ctx, card, make):
    for amount in (1000, 2500):
        top_up(ctx, card.card_no, amount, TopUpMethod.WECHAT)
    assert claim_transitional(ctx, card.card_no, make.terminal())["claimed"] == 3500
    assert balance(ctx, card.account.purse_id) == 3500


@pytest.mark.parametrize("kind", [TerminalKind.WATER, TerminalKind.SHOWER])
def test_r09_the_transitional_balance_is_claimed_at_a_pos_only(ctx, card, make, kind):
    controller = make.terminal(kind=kind, category=MerchantCategory.WATER)
    top_up(ctx, card.card_no, 2000, TopUpMethod.WECHAT)
    with writes_nothing(ctx.session), pytest.raises(NotAllowed):
        claim_transitional(ctx, card.card_no, controller)


# Which cards take money


@pytest.mark.parametrize("method", list(TopUpMethod))
def test_r09_a_lost_card_can_still_be_topped_up(ctx, card, method):
    bind_bank_card(ctx, card.card_no, BANK_CARD, query_password=password_of(card))
    report_loss(ctx, card.card_no, Channel.COUNTER)
    top_up(ctx, card.card_no, 2000, method)
    account = card.account.transitional_id if method == "wechat" else card.account.purse_id
    assert balance(ctx, account) == 2000
    assert check_ledger(ctx.session) == []


@pytest.mark.parametrize("method", list(TopUpMethod))
def test_r09_a_cancelled_card_cannot_be_topped_up(ctx, card, method):
    bind_bank_card(ctx, card.card_no, BANK_CARD, query_password=password_of(card))
    cancel_card(ctx, card.card_no)
    with writes_nothing(ctx.session), pytest.raises(CardNotActive):
        top_up(ctx, card.card_no, 2000, method)


def test_r09_a_lost_card_cannot_claim_its_transitional_balance(ctx, card, make):
    pos = make.terminal()
    top_up(ctx, card.card_no, 2000, TopUpMethod.WECHAT)
    report_loss(ctx, card.card_no, Channel.COUNTER)
    with writes_nothing(ctx.session), pytest.raises(CardNotActive):
        claim_transitional(ctx, card.card_no, pos)


# Bad input


@pytest.mark.parametrize("method", list(TopUpMethod))
def test_top_up_of_an_unknown_card_is_not_found(ctx, method):
    with writes_nothing(ctx.session), pytest.raises(NotFound):
        top_up(ctx, "0000000000", 100, method)


@pytest.mark.parametrize("amount", [0, -1, -100, 1.5, 100.0, "100", True, None, 1_000_001])
@pytest.mark.parametrize("method", [TopUpMethod.CASH, TopUpMethod.WECHAT])
def test_top_up_with_an_invalid_amount_is_refused(ctx, card, method, amount):
    with writes_nothing(ctx.session), pytest.raises(InvalidAmount):
        top_up(ctx, card.card_no, amount, method)


def test_top_up_of_the_maximum_amount_is_accepted(ctx, card):
    assert top_up(ctx, card.card_no, 1_000_000, TopUpMethod.CASH)["balance"] == 1_000_000


def test_claim_at_an_unknown_terminal_is_not_found(ctx, card):
    top_up(ctx, card.card_no, 2000, TopUpMethod.WECHAT)
    with writes_nothing(ctx.session), pytest.raises(NotFound):
        claim_transitional(ctx, card.card_no, "T-NONE")

"""The ledger side of merchant admission and revocation (R23, R24), their terminals, and
where a merchant's money may come from (R12)."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from ledger.check import check_ledger
from ledger.errors import Conflict, InvalidInput, NotAllowed, NotFound
from ledger.models.accounts import AccountKind, LedgerAccount
from ledger.models.journal import Posting
from ledger.models.merchants import MerchantCategory, OpenState, TerminalKind
from ledger.models.people import DepartmentKind
from ledger.ops.merchants import (
    admit_merchant,
    close_merchant,
    disable_terminal,
    find_merchant,
    move_terminal,
    register_terminal,
)
from ledger.ops.metering import pre_deduct, settle_hold
from ledger.ops.money import TopUpMethod, claim_transitional, purchase, top_up
from ledger.ops.settlement import settle_merchant
from tests.ledger.helpers import balance, terminal_by_code, writes_nothing

NEXT_WEEK = datetime(2026, 12, 4, 10, 0)


@pytest.fixture
def unit(make):
    return make.department(kind=DepartmentKind.UNIT)


def admit(ctx, unit, code="CANTEEN1", **kw):
    kw = {
        "name": "第一食堂",
        "category": MerchantCategory.CANTEEN,
        "location": "第一食堂",
        "operator_department_id": unit.id,
        "supervising_department_id": unit.id,
        "commercial": False,
        **kw,
    }
    return admit_merchant(ctx, code=code, **kw)


# R23: admission and terminals


@pytest.mark.parametrize(
    ("commercial", "extra", "rate", "days"),
    [
        (True, {}, 50, 7),
        (False, {}, 0, 7),
        (True, {"settlement_days": 14}, 50, 14),
        (True, {"fee_rate_bp": 30, "settlement_days": 1}, 30, 1),
        (False, {"fee_rate_bp": 50}, 0, 7),  # a non-commercial merchant never pays a fee
    ],
)
def test_r23_admit_merchant_with_fee_terms(ctx, unit, commercial, extra, rate, days):
    result = admit(ctx, unit, commercial=commercial, **extra)
    assert (result["fee_rate_bp"], result["settlement_days"]) == (rate, days)
    merchant = find_merchant(ctx, "CANTEEN1")
    assert (merchant.commercial, merchant.fee_rate_bp, merchant.settlement_days) == (
        commercial,
        rate,
        days,
    )
    assert merchant.state == OpenState.ACTIVE
    # R11: the first settlement period starts on the admission day
    assert merchant.settled_through == ctx.today - timedelta(days=1)
    account = ctx.session.get(LedgerAccount, merchant.account_id)
    assert (account.kind, account.balance) == (AccountKind.MERCHANT, 0)


def test_r23_merchant_codes_are_unique(ctx, unit):
    admit(ctx, unit)
    with pytest.raises(Conflict):
        admit(ctx, unit, name="另一家")


@pytest.mark.parametrize(
    ("override", "error"),
    [
        ({"operator_department_id": 999_999}, NotFound),
        ({"supervising_department_id": 999_999}, NotFound),
        ({"name": ""}, InvalidInput),
        ({"location": ""}, InvalidInput),
        ({"commercial": True, "fee_rate_bp": 10_001}, InvalidInput),
        ({"commercial": True, "fee_rate_bp": -1}, InvalidInput),
        ({"settlement_days": -7}, InvalidInput),
        ({"settlement_days": 0}, InvalidInput),  # not read as "not given"
    ],
)
def test_r23_admit_merchant_refuses_bad_applications(ctx, unit, override, error):
    with pytest.raises(error):
        admit(ctx, unit, **override)
    with pytest.raises(NotFound):
        find_merchant(ctx, "CANTEEN1")


@pytest.mark.parametrize("kind", list(TerminalKind))
def test_r23_register_terminal_at_the_approved_place(ctx, make, kind):
    merchant = make.merchant(location="第三食堂")
    result = register_terminal(ctx, merchant.code, "POS-3-01", kind, "第三食堂")
    assert result == {"terminal": "POS-3-01", "merchant": merchant.code, "location": "第三食堂"}
    registered = terminal_by_code(ctx, "POS-3-01")
    assert (registered.kind, registered.location, registered.state) == (
        kind,
        "第三食堂",
        OpenState.ACTIVE,
    )
    assert registered.merchant_id == merchant.id


@pytest.mark.parametrize(
    ("merchant_code", "terminal_code", "location", "error"),
    [
        ("NO-SUCH", "POS-NEW", "第一食堂", NotFound),
        (None, "TAKEN", "第一食堂", Conflict),
        (None, "POS-NEW", "", InvalidInput),
    ],
)
def test_r23_register_terminal_refusals(ctx, make, merchant_code, terminal_code, location, error):
    merchant = make.merchant()
    register_terminal(ctx, merchant.code, "TAKEN", TerminalKind.POS, "第一食堂")
    with pytest.raises(error):
        register_terminal(
            ctx, merchant_code or merchant.code, terminal_code, TerminalKind.POS, location
        )
    assert terminal_by_code(ctx, "POS-NEW") is None


def test_r23_move_terminal_to_a_new_place(ctx, make):
    code = make.terminal()
    assert move_terminal(ctx, code, "第二食堂") == {"terminal": code, "location": "第二食堂"}
    assert terminal_by_code(ctx, code).location == "第二食堂"


@pytest.mark.parametrize(("code", "error"), [("T-NONE", NotFound), (None, NotAllowed)])
def test_r23_move_terminal_refusals(ctx, make, code, error):
    existing = make.terminal()
    disable_terminal(ctx, existing)
    with pytest.raises(error):
        move_terminal(ctx, code or existing, "第二食堂")
    assert terminal_by_code(ctx, existing).location == "第一食堂"


def test_r23_move_terminal_needs_a_place(ctx, make):
    code = make.terminal()
    with pytest.raises((InvalidInput, NotAllowed)):
        move_terminal(ctx, code, "")
    assert terminal_by_code(ctx, code).location == "第一食堂"


def test_r23_a_disabled_terminal_refuses_purchases(ctx, make):
    card, code, other = make.card(balance=5000), make.terminal(), make.terminal()
    assert disable_terminal(ctx, code) == {"terminal": code, "state": "closed"}
    with writes_nothing(ctx.session):
        with pytest.raises(NotAllowed):
            purchase(ctx, card.card_no, code, 100)
        with pytest.raises(NotAllowed):
            claim_transitional(ctx, card.card_no, code)
    assert balance(ctx, card.account.purse_id) == 5000
    # the merchant's other terminals keep working
    purchase(ctx, card.card_no, other, 100)
    assert balance(ctx, card.account.purse_id) == 4900


def test_r23_disable_an_unknown_terminal_is_not_found(ctx):
    with pytest.raises(NotFound):
        disable_terminal(ctx, "T-NONE")


# R24: revocation


def test_r24_close_merchant_refused_while_its_balance_is_not_zero(ctx, make):
    merchant = make.merchant()
    code = make.terminal(merchant)
    purchase(ctx, make.card(balance=5000).card_no, code, 1500)
    with pytest.raises(Conflict):
        close_merchant(ctx, merchant.code)
    assert find_merchant(ctx, merchant.code).state == OpenState.ACTIVE
    assert terminal_by_code(ctx, code).state == OpenState.ACTIVE


def test_r24_close_merchant_once_settled_closes_all_its_terminals(ctx, at, make):
    merchant = make.merchant()
    codes = [make.terminal(merchant), make.terminal(merchant, kind=TerminalKind.WATER)]
    other = make.terminal()
    card = make.card(balance=5000)
    purchase(ctx, card.card_no, codes[0], 1500)
    later = at(NEXT_WEEK)
    settle_merchant(later, merchant.code)
    assert balance(later, merchant.account_id) == 0

    assert close_merchant(later, merchant.code) == {"merchant": merchant.code, "state": "closed"}
    closed = find_merchant(later, merchant.code)
    assert (closed.state, closed.closed_at) == (OpenState.CLOSED, later.now)
    assert [terminal_by_code(later, c).state for c in codes] == [OpenState.CLOSED] * 2
    assert terminal_by_code(later, other).state == OpenState.ACTIVE
    with writes_nothing(later.session):
        with pytest.raises(NotAllowed):
            purchase(later, card.card_no, codes[0], 100)
        with pytest.raises(NotAllowed):
            pre_deduct(later, card.card_no, codes[1], 100)
    assert check_ledger(later.session) == []


def test_r24_a_merchant_with_no_takings_can_be_closed_at_once(ctx, make):
    merchant = make.merchant()
    make.terminal(merchant)
    close_merchant(ctx, merchant.code)
    with pytest.raises(Conflict):
        close_merchant(ctx, merchant.code)
    with pytest.raises(NotAllowed):
        register_terminal(ctx, merchant.code, "POS-LATE", TerminalKind.POS, merchant.location)


def test_r24_close_an_unknown_merchant_is_not_found(ctx):
    with pytest.raises(NotFound):
        close_merchant(ctx, "NO-SUCH")


# R12: departments connected to the card system take no cash; their money comes by card


def test_r12_merchant_accounts_are_credited_only_from_cards(ctx, at, make):
    merchant = make.merchant(commercial=True)
    pos, water = make.terminal(merchant), make.terminal(merchant, kind=TerminalKind.WATER)
    card = make.card(balance=20_000)
    top_up(ctx, card.card_no, 1000, TopUpMethod.WECHAT)
    claim_transitional(ctx, card.card_no, pos)
    purchase(ctx, card.card_no, pos, 1200)
    pre_deduct(ctx, card.card_no, water, 500)
    settle_hold(ctx, card.card_no, water, 300)
    settle_merchant(at(NEXT_WEEK), merchant.code)

    sources = ctx.session.scalars(
        select(LedgerAccount.kind)
        .join(Posting, Posting.debit_id == LedgerAccount.id)
        .where(Posting.credit_id == merchant.account_id)
    ).all()
    assert sorted(sources) == [AccountKind.HOLDS, AccountKind.PURSE]
    assert check_ledger(ctx.session) == []


def test_r24_close_merchant_refused_while_a_pre_deduction_is_open_at_its_terminals(ctx, at, make):
    """Its settlement would credit a closed merchant that no settlement run pays."""
    merchant = make.merchant(MerchantCategory.WATER)
    water = make.terminal(merchant, kind=TerminalKind.WATER)
    card = make.card(balance=5000)
    pre_deduct(ctx, card.card_no, water, 500)
    with writes_nothing(ctx.session), pytest.raises(Conflict) as refused:
        close_merchant(ctx, merchant.code)
    assert "预扣" in refused.value.message("zh")
    assert find_merchant(ctx, merchant.code).state == OpenState.ACTIVE
    assert terminal_by_code(ctx, water).state == OpenState.ACTIVE
    settle_hold(ctx, card.card_no, water, 300)
    tomorrow = at(ctx.now + timedelta(days=1))
    assert settle_merchant(tomorrow, merchant.code)["turnover"] == 300
    assert close_merchant(tomorrow, merchant.code)["state"] == "closed"
    assert check_ledger(ctx.session) == []

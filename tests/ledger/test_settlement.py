"""Merchants' money (R11): settlement of whole Asia/Shanghai days through yesterday, with the
0.5% management fee for commercial merchants, weekly unless agreed otherwise, and adjustments
(调账) that put right double charges."""

import json
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from ledger.check import check_ledger
from ledger.errors import Conflict, InvalidAmount, NotFound
from ledger.models.accounts import AccountKind
from ledger.models.journal import EntryKind, JournalEntry, Posting
from ledger.models.merchants import MerchantCategory, Settlement, TerminalKind
from ledger.ops.merchants import close_merchant
from ledger.ops.metering import pre_deduct, settle_hold
from ledger.ops.money import TopUpMethod, purchase, top_up
from ledger.ops.settlement import management_fee, post_adjustment, run_settlement, settle_merchant
from tests.conftest import SHANGHAI
from tests.ledger.helpers import balance, password_of, system_balance, writes_nothing

ADMISSION_DAY = date(2026, 11, 27)  # the `ctx` day, a Friday: every merchant is admitted then


def day(n: int, hour: int = 10, minute: int = 0, second: int = 0) -> datetime:
    """A moment `n` days after the admission day, on the Shanghai clock."""
    return datetime.combine(ADMISSION_DAY + timedelta(days=n), time(hour, minute, second))


def iso(n: int) -> str:
    """The admission day plus `n` days, as a settlement result names it."""
    return (ADMISSION_DAY + timedelta(days=n)).isoformat()


def entry_as_written(ctx, entry_id: int) -> tuple:
    entry = ctx.session.get(JournalEntry, entry_id)
    ctx.session.refresh(entry)
    postings = ctx.session.execute(
        select(Posting.id, Posting.debit_id, Posting.credit_id, Posting.amount).where(
            Posting.entry_id == entry_id
        )
    ).all()
    return (entry.kind, entry.amount, entry.card_id, entry.merchant_id, entry.corrects_id, postings)


def covered_turnover(ctx, merchant, settlement: Settlement) -> int:
    """Turnover credited to `merchant` on the Shanghai days of `settlement`'s period."""
    rows = ctx.session.execute(
        select(JournalEntry.at, Posting.amount)
        .join(Posting, Posting.entry_id == JournalEntry.id)
        .where(
            Posting.credit_id == merchant.account_id,
            JournalEntry.kind.in_((EntryKind.PURCHASE, EntryKind.HOLD_SETTLE)),
        )
    ).all()
    days = (settlement.period_start, settlement.period_end)
    return sum(a for at_, a in rows if days[0] <= at_.astimezone(ctx.config.zone).date() <= days[1])


def period(result: dict) -> tuple[str, str, int]:
    return result["period_start"], result["period_end"], result["turnover"]


@pytest.fixture
def card(make):
    return make.card(balance=1_000_000)


def spend(ctx, card, terminal: str, amount: int) -> int:
    """A purchase with the consumption password at hand, so the daily limit never stops it."""
    pw = password_of(card)
    return purchase(ctx, card.card_no, terminal, amount, consume_password=pw)["entry_id"]


# The management fee


@pytest.mark.parametrize(
    ("purchases", "fee"),
    [
        ((), 0),
        ((1,), 0),
        ((99,), 0),  # 0.495 fen
        ((100,), 1),  # 0.5 fen rounds up
        ((299,), 1),  # 1.495
        ((300,), 2),  # 1.5
        ((100, 100, 100), 2),  # the fee is on the period's turnover, not on each purchase
        ((10_000,), 50),
        ((12_299,), 61),
        ((12_300,), 62),
        ((12_345,), 62),
        ((199_900,), 1000),  # 999.5
    ],
)
def test_r11_commercial_merchant_pays_half_a_percent_rounded_half_up(
    ctx, at, make, card, purchases, fee
):
    merchant = make.merchant(commercial=True)
    pos = make.terminal(merchant)
    for amount in purchases:
        spend(ctx, card, pos, amount)
    turnover = sum(purchases)
    later = at(day(7))
    result = settle_merchant(later, merchant.code)
    assert result == {
        "merchant": merchant.code,
        "settlement_id": result["settlement_id"],
        "period_start": iso(0),
        "period_end": iso(6),
        "turnover": turnover,
        "adjustments": 0,
        "fee": fee,
        "payout": turnover - fee,
    }
    assert balance(later, merchant.account_id) == 0
    assert system_balance(later, AccountKind.MANAGEMENT_FEES) == fee
    assert system_balance(later, AccountKind.BANK) == turnover - fee
    settlement = later.session.get(Settlement, result["settlement_id"])
    assert (settlement.period_start, settlement.period_end) == (
        ADMISSION_DAY,
        date(2026, 12, 3),
    )
    assert (settlement.turnover, settlement.fee, settlement.payout) == (
        turnover,
        fee,
        turnover - fee,
    )
    assert check_ledger(later.session) == []


@pytest.mark.parametrize(("turnover", "fee"), [(99, 0), (100, 1), (12_345, 62), (199_900, 1000)])
def test_r11_management_fee_function(turnover, fee):
    assert management_fee(turnover, 50) == fee


@pytest.mark.parametrize("turnover", [100, 12_345, 199_900])
def test_r11_non_commercial_merchant_pays_no_fee(ctx, at, make, card, turnover):
    merchant = make.merchant(MerchantCategory.LIBRARY, commercial=False)
    spend(ctx, card, make.terminal(merchant), turnover)
    later = at(day(7))
    result = settle_merchant(later, merchant.code)
    assert (result["fee"], result["payout"]) == (0, turnover)
    assert balance(later, merchant.account_id) == 0
    assert system_balance(later, AccountKind.MANAGEMENT_FEES) == 0
    assert system_balance(later, AccountKind.BANK) == turnover
    assert check_ledger(later.session) == []


def test_r11_settlement_amounts_are_whole_fen(ctx, at, make, card):
    """Results are ints, as everywhere in the ledger: the settle job prints them as JSON."""
    merchant = make.merchant(commercial=True)
    spend(ctx, card, make.terminal(merchant), 12_345)
    result = settle_merchant(at(day(7)), merchant.code)
    amounts = [result[k] for k in ("turnover", "adjustments", "fee", "payout")]
    assert [type(a) for a in amounts] == [int] * 4
    assert json.loads(json.dumps(result)) == result


# Periods: whole Shanghai days, from the day after the last settlement through yesterday


@pytest.mark.parametrize("settled_on", [1, 7])
def test_r11_first_settlement_period_includes_the_admission_day(ctx, at, make, card, settled_on):
    merchant = make.merchant(commercial=True)
    spend(ctx, card, make.terminal(merchant), 1000)  # on the admission day
    result = settle_merchant(at(day(settled_on)), merchant.code)
    assert period(result) == (iso(0), iso(settled_on - 1), 1000)
    settlement = ctx.session.get(Settlement, result["settlement_id"])
    assert covered_turnover(ctx, merchant, settlement) == settlement.turnover == 1000


def test_r11_nothing_to_settle_on_the_admission_day(ctx, make, card):
    merchant = make.merchant(commercial=True)
    spend(ctx, card, make.terminal(merchant), 1000)
    with writes_nothing(ctx.session), pytest.raises(Conflict) as refused:
        settle_merchant(ctx, merchant.code)
    assert "no unsettled day before today" in refused.value.message("en")
    assert balance(ctx, merchant.account_id) == 1000  # today's takings wait for tomorrow


@pytest.mark.parametrize("again", [day(1, 10, 0, 1), day(1, 23, 59, 59)])
def test_r11_settling_twice_on_the_same_day_is_refused(ctx, at, make, card, again):
    merchant = make.merchant(commercial=True, settlement_days=1)
    pos = make.terminal(merchant)
    spend(ctx, card, pos, 1000)
    assert period(settle_merchant(at(day(1)), merchant.code)) == (iso(0), iso(0), 1000)
    spend(at(day(1, 10, 0, 1)), card, pos, 500)
    with writes_nothing(ctx.session):
        with pytest.raises(Conflict):
            settle_merchant(at(again), merchant.code)
        assert run_settlement(at(again)) == []  # even a daily merchant is not due again today
    assert period(settle_merchant(at(day(2, 0)), merchant.code)) == (iso(1), iso(1), 500)
    assert check_ledger(ctx.session) == []


def test_r11_settle_an_unknown_merchant_is_not_found(ctx):
    with pytest.raises(NotFound):
        settle_merchant(ctx, "NO-SUCH")


def test_r11_each_settlement_covers_the_days_since_the_last(ctx, at, make, card):
    merchant = make.merchant(commercial=True)
    pos = make.terminal(merchant)
    spend(ctx, card, pos, 10_000)
    first = settle_merchant(at(day(7)), merchant.code)
    for n, amount in ((7, 400), (8, 2000), (13, 600)):  # day 7 after the settlement
        spend(at(day(n, 12)), card, pos, amount)
    second = settle_merchant(at(day(14)), merchant.code)
    assert [period(r) for r in (first, second)] == [
        (iso(0), iso(6), 10_000),
        (iso(7), iso(13), 3000),
    ]
    assert [(r["fee"], r["payout"]) for r in (first, second)] == [(50, 9950), (15, 2985)]
    assert system_balance(ctx, AccountKind.MANAGEMENT_FEES) == 65
    assert check_ledger(ctx.session) == []


def test_r11_turnover_after_a_settlement_run_falls_in_a_period_containing_its_day(
    ctx, at, make, card
):
    """Takings of the settlement day, before or after the run, wait for the next one."""
    merchant = make.merchant(commercial=True)
    pos = make.terminal(merchant)
    spend(at(day(7, 9)), card, pos, 1000)
    assert period(settle_merchant(at(day(7)), merchant.code)) == (iso(0), iso(6), 0)
    spend(at(day(7, 15)), card, pos, 500)
    assert balance(ctx, merchant.account_id) == 1500
    result = settle_merchant(at(day(14)), merchant.code)
    assert period(result) == (iso(7), iso(13), 1500)
    settlement = ctx.session.get(Settlement, result["settlement_id"])
    assert covered_turnover(ctx, merchant, settlement) == 1500


@pytest.mark.parametrize("zone", [SHANGHAI, UTC], ids=["shanghai", "utc"])
def test_r11_purchases_either_side_of_local_midnight_fall_in_their_own_day(at, make, card, zone):
    """23:59:59 and 00:00 in Shanghai (15:59:59 and 16:00 UTC) belong to two days, whatever
    zone the clock reports in."""
    merchant = make.merchant(commercial=True)
    pos = make.terminal(merchant)
    for moment, amount in ((day(0, 23, 59, 59), 100), (day(1, 0), 200)):
        spend(at(moment.replace(tzinfo=SHANGHAI).astimezone(zone)), card, pos, amount)
    first = settle_merchant(at(day(1, 0, 0, 1)), merchant.code)
    second = settle_merchant(at(day(2, 0, 0, 1)), merchant.code)
    assert [period(r) for r in (first, second)] == [(iso(0), iso(0), 100), (iso(1), iso(1), 200)]


def test_r11_run_settlement_weekly_unless_the_agreement_says_otherwise(ctx, at, make, card):
    """A merchant settled every n days is settled n, 2n ... days after its admission, each
    time for the n whole days before; a closed merchant never is."""
    agreed = {"DAILY": 1, "EVERY3": 3, "WEEKLY": None, "EVERY14": 14}  # None: the default
    terminals = {
        code: make.terminal(make.merchant(commercial=True, code=code, settlement_days=days))
        for code, days in agreed.items()
    }
    close_merchant(ctx, make.merchant(code="CLOSED").code)
    for n in range(16):
        results = run_settlement(at(day(n, 1)))
        due = [code for code, days in agreed.items() if n and n % (days or 7) == 0]
        assert [r["merchant"] for r in results] == due, n
        for result in results:
            days = agreed[result["merchant"]] or 7
            assert period(result) == (iso(n - days), iso(n - 1), 100 * days), n
        for pos in terminals.values():
            spend(at(day(n, 12)), card, pos, 100)
    assert check_ledger(ctx.session) == []


def test_r11_run_settlement_pays_out_each_due_merchant(ctx, at, make, card):
    merchants = [make.merchant(commercial=True), make.merchant(commercial=False)]
    for merchant in merchants:
        spend(ctx, card, make.terminal(merchant), 20_000)
    results = run_settlement(at(day(7)))
    assert [(r["fee"], r["payout"]) for r in results] == [(100, 19_900), (0, 20_000)]
    assert [balance(ctx, m.account_id) for m in merchants] == [0, 0]
    assert system_balance(ctx, AccountKind.BANK) == 39_900
    assert check_ledger(ctx.session) == []


# Adjustments (调账) for double charges


def test_r11_adjustment_refunds_a_double_charge_from_the_merchant(ctx, make, card):
    merchant = make.merchant(commercial=True)
    pos = make.terminal(merchant)
    spend(ctx, card, pos, 1500)
    double = spend(ctx, card, pos, 1500)
    original = entry_as_written(ctx, double)
    result = post_adjustment(ctx, double, 1500, "系统重复扣款")
    assert (result["corrects"], result["amount"]) == (double, 1500)
    assert balance(ctx, card.account.purse_id) == 1_000_000 - 1500
    assert balance(ctx, merchant.account_id) == 1500
    adjustment = ctx.session.get(JournalEntry, result["entry_id"])
    assert (adjustment.kind, adjustment.amount, adjustment.corrects_id) == (
        EntryKind.ADJUSTMENT,
        1500,
        double,
    )
    assert (adjustment.card_id, adjustment.merchant_id, adjustment.memo) == (
        card.id,
        merchant.id,
        "系统重复扣款",
    )
    assert [(p.debit_id, p.credit_id, p.amount) for p in adjustment.postings] == [
        (merchant.account_id, card.account.purse_id, 1500)
    ]
    assert entry_as_written(ctx, double) == original  # the original is never edited
    assert check_ledger(ctx.session) == []


@pytest.mark.parametrize(
    ("earlier", "refused"),
    [((), 1501), ((1000,), 501), ((1000, 500), 1), ((1500,), 1), ((1, 1), 1499)],
)
def test_r11_adjustments_never_exceed_the_original_amount(ctx, make, card, earlier, refused):
    pos = make.terminal()
    spend(ctx, card, pos, 5000)
    entry_id = spend(ctx, card, pos, 1500)
    for amount in earlier:
        post_adjustment(ctx, entry_id, amount, "partial")
    with writes_nothing(ctx.session), pytest.raises(InvalidAmount):
        post_adjustment(ctx, entry_id, refused, "too much")
    if refused > 1:
        post_adjustment(ctx, entry_id, refused - 1, "the rest")
    assert balance(ctx, card.account.purse_id) == 1_000_000 - 5000  # 1500 refunded in all
    assert check_ledger(ctx.session) == []


@pytest.mark.parametrize("amount", [0, -1, 1.5, "100", True, None])
def test_r11_adjustment_amount_must_be_whole_positive_fen(ctx, make, card, amount):
    entry_id = spend(ctx, card, make.terminal(), 1500)
    with writes_nothing(ctx.session), pytest.raises(InvalidAmount):
        post_adjustment(ctx, entry_id, amount, "bad")


def test_r11_only_purchases_are_adjusted(ctx, make, card):
    pos = make.terminal()
    purchase_id = spend(ctx, card, pos, 1500)
    adjustment_id = post_adjustment(ctx, purchase_id, 500, "double")["entry_id"]
    top_up_id = top_up(ctx, card.card_no, 100, TopUpMethod.CASH)["entry_id"]
    with writes_nothing(ctx.session):
        for entry_id in (top_up_id, adjustment_id, 999_999):
            with pytest.raises(NotFound):
                post_adjustment(ctx, entry_id, 100, "not a purchase")


def test_r11_a_metered_charge_can_be_adjusted(ctx, make, card):
    water = make.terminal(kind=TerminalKind.WATER, category=MerchantCategory.WATER)
    pre_deduct(ctx, card.card_no, water, 500)
    entry_id = settle_hold(ctx, card.card_no, water, 300)["entry_id"]
    post_adjustment(ctx, entry_id, 300, "controller fault")
    assert balance(ctx, card.account.purse_id) == 1_000_000
    with pytest.raises(InvalidAmount):
        post_adjustment(ctx, entry_id, 1, "again")
    assert check_ledger(ctx.session) == []


def test_r11_adjustments_reduce_the_fee_base_of_the_period_they_are_dated_in(ctx, at, make, card):
    """One double charge put right in two parts: within its own period, and after that period
    was settled, from the next period's takings."""
    merchant = make.merchant(commercial=True)
    pos = make.terminal(merchant)
    spend(ctx, card, pos, 10_000)
    double = spend(ctx, card, pos, 10_000)
    post_adjustment(at(day(2)), double, 4000, "系统重复扣款")
    first = settle_merchant(at(day(7)), merchant.code)
    spend(at(day(8)), card, pos, 8000)
    post_adjustment(at(day(9)), double, 6000, "系统重复扣款")
    second = settle_merchant(at(day(14)), merchant.code)
    assert [(r["turnover"], r["adjustments"], r["fee"], r["payout"]) for r in (first, second)] == [
        (20_000, 4000, 80, 15_920),
        (8000, 6000, 10, 1990),
    ]
    assert balance(ctx, merchant.account_id) == 0
    assert balance(ctx, card.account.purse_id) == 1_000_000 - 28_000 + 10_000
    assert check_ledger(ctx.session) == []


def test_r11_adjustment_after_settlement_is_owed_and_recovered_next_time(ctx, at, make, card):
    merchant = make.merchant()
    terminal = make.terminal(merchant)
    entry_id = spend(ctx, card, terminal, 1500)
    settle_merchant(at(day(7)), merchant.code)
    post_adjustment(at(day(7)), entry_id, 1500, "settled already")
    assert balance(ctx, merchant.account_id) == -1500  # the merchant owes the card office
    assert balance(ctx, card.account.purse_id) == 1_000_000
    spend(at(day(8)), card, terminal, 2000)
    recovered = settle_merchant(at(day(14)), merchant.code)
    assert (recovered["turnover"], recovered["adjustments"], recovered["payout"]) == (
        2000,
        1500,
        500,
    )
    assert balance(ctx, merchant.account_id) == 0
    assert check_ledger(ctx.session) == []


def test_r11_no_payout_while_the_merchant_owes(ctx, at, make, card):
    merchant = make.merchant()
    entry_id = spend(ctx, card, make.terminal(merchant), 1500)
    settle_merchant(at(day(7)), merchant.code)
    post_adjustment(at(day(7)), entry_id, 1000, "settled already")
    nothing = settle_merchant(at(day(14)), merchant.code)
    assert (nothing["adjustments"], nothing["payout"]) == (1000, 0)
    assert balance(ctx, merchant.account_id) == -1000
    assert check_ledger(ctx.session) == []

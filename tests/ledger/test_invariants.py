"""The ledger's invariants: double entry, an append-only journal enforced by the database,
the CHECK constraints, and check_ledger finding any balance that disagrees with the journal."""

from datetime import datetime

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from ledger.check import check_ledger, rebuilt_balances
from ledger.models.accounts import AccountKind, LedgerAccount
from ledger.models.cards import CardEvent
from ledger.models.journal import EntryKind, JournalEntry, Posting
from ledger.models.merchants import MerchantCategory, TerminalKind
from ledger.models.people import NetworkStatus, PersonCategory
from ledger.ops.closing import cancel_card
from ledger.ops.metering import pre_deduct, settle_hold
from ledger.ops.money import TopUpMethod, claim_transitional, purchase, top_up
from ledger.ops.services import bind_bank_card, pay_network_fee
from ledger.ops.settlement import post_adjustment, run_settlement
from tests.ledger.helpers import balance, count, password_of, system_account_id, system_balance

NEXT_WEEK = datetime(2026, 12, 4, 10, 0)


@pytest.fixture
def scenario(ctx, at, make):
    """A mixed week: every kind of top-up, purchases, metering, a network fee, an adjustment,
    a settlement and a cancellation with its cash refund. Returns the ids worth poking at."""
    merchant = make.merchant(commercial=True)
    pos = make.terminal(merchant)
    water = make.terminal(kind=TerminalKind.WATER, category=MerchantCategory.WATER)
    shower = make.terminal(kind=TerminalKind.SHOWER, category=MerchantCategory.BATHHOUSE)
    alice = make.card(balance=20_000, network_status=NetworkStatus.ACTIVE)
    bob = make.card(balance=3000)
    pw = password_of(alice)

    bind_bank_card(ctx, alice.card_no, "6216610000123456780", query_password=pw)
    top_up(ctx, alice.card_no, 5000, TopUpMethod.BANK)
    top_up(ctx, alice.card_no, 2000, TopUpMethod.WECHAT)
    claim_transitional(ctx, alice.card_no, pos)
    purchase(ctx, alice.card_no, pos, 1200)
    double = purchase(ctx, alice.card_no, pos, 1200)["entry_id"]
    post_adjustment(ctx, double, 1200, "系统重复扣款")
    pre_deduct(ctx, alice.card_no, water, 500)
    pre_deduct(ctx, alice.card_no, shower, 800)  # settles the water hold in full
    settle_hold(ctx, alice.card_no, shower, 350)
    pre_deduct(ctx, bob.card_no, water, 400)  # left open
    pay_network_fee(ctx, alice.card_no, 2, query_password=pw)
    purchase(ctx, bob.card_no, pos, 900)
    top_up(ctx, bob.card_no, 700, TopUpMethod.WECHAT)  # never claimed
    make.card(PersonCategory.OTHER)  # a temporary card: 25 yuan paid in cash
    carol = make.card(balance=1500)
    later = at(NEXT_WEEK)
    run_settlement(later)
    purchase(later, carol.card_no, pos, 300)
    cancel_card(later, carol.card_no)
    return {"alice": alice, "bob": bob, "merchant": merchant, "double": double}


def test_every_posting_moves_one_positive_amount_between_two_accounts(ctx, scenario):
    postings = ctx.session.scalars(select(Posting)).all()
    assert len(postings) > 20
    assert all(p.amount > 0 and p.debit_id != p.credit_id for p in postings)
    kinds = set(ctx.session.scalars(select(JournalEntry.kind)))
    assert kinds == set(EntryKind)  # the scenario exercises every kind of entry


def test_all_balances_sum_to_zero_and_match_the_journal(ctx, scenario):
    stored = dict(ctx.session.execute(select(LedgerAccount.id, LedgerAccount.balance)).all())
    assert sum(stored.values()) == 0
    rebuilt = rebuilt_balances(ctx.session)
    assert {k: v for k, v in stored.items() if v} == {k: v for k, v in rebuilt.items() if v}
    assert check_ledger(ctx.session) == []


def test_scenario_balances(ctx, scenario):
    """Spot checks on the scenario's outcome, so the invariants above are about real money."""
    alice, bob = scenario["alice"], scenario["bob"]
    assert balance(ctx, alice.account.purse_id) == 20_000 + 5000 + 2000 - 1200 - 500 - 350 - 1000
    bob_purse, bob_transitional = bob.account.purse_id, bob.account.transitional_id
    assert (balance(ctx, bob_purse), balance(ctx, bob_transitional)) == (3000 - 400 - 900, 700)
    assert system_balance(ctx, AccountKind.HOLDS) == 400
    assert system_balance(ctx, AccountKind.NETWORK_FEES) == 1000
    assert balance(ctx, scenario["merchant"].account_id) == 300  # bought after the settlement
    assert system_balance(ctx, AccountKind.REFUNDS) == 0  # carol's refund was paid in cash


# The journal is append-only


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE journal_entries SET memo = 'edited' WHERE id = :entry",
        "UPDATE journal_entries SET amount = amount + 1 WHERE id = :entry",
        "DELETE FROM journal_entries WHERE id = :entry",
        "UPDATE postings SET amount = amount + 1 WHERE entry_id = :entry",
        "UPDATE postings SET credit_id = debit_id, debit_id = credit_id WHERE entry_id = :entry",
        "DELETE FROM postings WHERE entry_id = :entry",
        "UPDATE card_events SET reason = 'edited' WHERE card_id = :card",
        "DELETE FROM card_events WHERE card_id = :card",
    ],
)
def test_journal_and_card_history_are_append_only(ctx, scenario, statement):
    params = {"entry": scenario["double"], "card": scenario["alice"].id}
    with pytest.raises(DBAPIError), ctx.session.begin_nested():
        ctx.session.execute(text(statement), params)
    assert check_ledger(ctx.session) == []
    assert ctx.session.get(JournalEntry, scenario["double"]) is not None


def test_append_only_holds_for_orm_edits_too(ctx, scenario):
    event = ctx.session.scalar(select(CardEvent).where(CardEvent.card_id == scenario["alice"].id))
    with pytest.raises(DBAPIError), ctx.session.begin_nested():
        event.reason = "edited"
        ctx.session.flush()


# CHECK constraints on postings


@pytest.mark.parametrize(
    ("amount", "same_account"),
    [(0, False), (-1, False), (-1200, False), (100, True)],
)
def test_database_refuses_a_posting_that_is_not_positive_or_not_between_two_accounts(
    ctx, scenario, amount, same_account
):
    alice = scenario["alice"]
    debit = alice.account.purse_id
    credit = debit if same_account else scenario["merchant"].account_id
    row = dict(entry_id=scenario["double"], debit_id=debit, credit_id=credit, amount=amount)
    before = count(ctx, Posting)
    with pytest.raises(IntegrityError), ctx.session.begin_nested():
        ctx.session.execute(insert(Posting).values(**row))
    assert count(ctx, Posting) == before


# check_ledger


def test_check_ledger_is_empty_on_a_fresh_ledger(ctx):
    assert check_ledger(ctx.session) == []


@pytest.mark.parametrize("target", ["alice_purse", "bob_transitional", "merchant"])
def test_check_ledger_reports_a_balance_tampered_with(ctx, scenario, target):
    account_id = {
        "alice_purse": scenario["alice"].account.purse_id,
        "bob_transitional": scenario["bob"].account.transitional_id,
        "merchant": scenario["merchant"].account_id,
    }[target]
    stored = balance(ctx, account_id)
    tampered = ctx.session.begin_nested()
    ctx.session.execute(
        text("UPDATE ledger_accounts SET balance = balance + 1 WHERE id = :id"), {"id": account_id}
    )
    problems = check_ledger(ctx.session)
    assert [(p["account_id"], p["stored"], p["rebuilt"]) for p in problems] == [
        (account_id, stored + 1, stored)
    ]
    tampered.rollback()
    assert check_ledger(ctx.session) == []


def test_check_ledger_reports_holds_that_disagree_with_the_holds_account(ctx, scenario):
    tampered = ctx.session.begin_nested()
    ctx.session.execute(text("UPDATE holds SET amount = amount + 5 WHERE state = 'pending'"))
    problems = check_ledger(ctx.session)
    assert [(p["kind"], p["stored"], p["rebuilt"]) for p in problems] == [("holds", 400, 405)]
    tampered.rollback()
    assert check_ledger(ctx.session) == []


def test_check_ledger_reports_a_system_account_tampered_with(ctx, scenario):
    holds = system_account_id(ctx, AccountKind.HOLDS)
    tampered = ctx.session.begin_nested()
    ctx.session.execute(
        text("UPDATE ledger_accounts SET balance = balance + 1 WHERE id = :id"), {"id": holds}
    )
    problems = check_ledger(ctx.session)
    assert {(p["account_id"], p["kind"]) for p in problems} == {(holds, "holds"), (None, "holds")}
    tampered.rollback()
    assert check_ledger(ctx.session) == []

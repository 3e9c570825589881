"""Ending cards and paying balances back: cancellation (R18), termination (R19), refunds (R14)."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from ledger.check import check_ledger
from ledger.context import Ctx
from ledger.errors import CardNotActive, Conflict, InvalidInput, NotFound, TransitionNotAllowed
from ledger.models.accounts import AccountKind
from ledger.models.cards import CardEvent, CardState, Delegation, EvidenceKind
from ledger.models.journal import EntryKind
from ledger.models.merchants import MerchantCategory, TerminalKind
from ledger.models.money import Hold, HoldState, Refund, RefundRoute, RefundState
from ledger.models.people import PersonCategory
from ledger.ops.cards import expire_cards
from ledger.ops.closing import (
    TerminationReason,
    cancel_card,
    pay_bank_refunds,
    pay_refund,
    terminate_card,
)
from ledger.ops.metering import pre_deduct
from ledger.ops.money import TopUpMethod, purchase, top_up
from tests.conftest import NOW, TEST_CONFIG
from tests.factories import Factories
from tests.ledger.helpers import (
    card_by_no,
    count,
    entries,
    last_event,
    snapshot,
    system_balance,
    writes_nothing,
)

P, S, R = PersonCategory, CardState, TerminationReason
DELEGATE = {
    "name": "王五",
    "id_number": "110105197503034567",
    "evidence": EvidenceKind.HOLDER_ID,
}
CLAIMANT = {"name": "赵六", "id_number": "110105196504045678", "relation": "配偶"}


def pending_refunds(session) -> int:
    return session.scalar(
        select(func.coalesce(func.sum(Refund.amount), 0)).where(Refund.state == RefundState.PENDING)
    )


# --- R18 cancellation --------------------------------------------------------------------------


def test_r18_cancellation_pays_purse_and_transitional_in_cash(ctx, make):
    card = make.card(P.FACULTY, balance=3000)
    top_up(ctx, card.card_no, 1000, TopUpMethod.WECHAT)  # still in the transitional balance
    cash_before = system_balance(ctx, AccountKind.CASH)
    result = cancel_card(ctx, card.card_no)
    assert result == {"card_no": card.card_no, "state": "cancelled", "paid_out": 4000}
    assert card_by_no(ctx, card.card_no).state == S.CANCELLED
    account = card.account
    assert (account.purse.balance, account.transitional.balance) == (0, 0)
    assert account.closed_at == ctx.now
    assert system_balance(ctx, AccountKind.CASH) - cash_before == 4000  # paid out
    assert entries(ctx, EntryKind.CLOSE_ACCOUNT) == [4000]
    assert entries(ctx, EntryKind.REFUND_PAYOUT) == [4000]
    refund = ctx.session.scalars(select(Refund)).one()
    assert (refund.route, refund.state, refund.amount) == (RefundRoute.CASH, RefundState.PAID, 4000)
    assert refund.paid_to == {"to": "holder"}
    assert system_balance(ctx, AccountKind.REFUNDS) == 0
    assert check_ledger(ctx.session) == []


def test_r18_cancellation_of_an_empty_card_moves_no_money(ctx, make):
    card = make.card()
    before = snapshot(ctx.session)
    assert cancel_card(ctx, card.card_no)["paid_out"] == 0
    after = snapshot(ctx.session)
    assert after["card_events"] == before["card_events"] + 1
    assert (after["journal_entries"], after["refunds"]) == (
        before["journal_entries"],
        before["refunds"],
    )
    assert check_ledger(ctx.session) == []


def test_r18_delegate_is_recorded(ctx, make):
    card = make.card(P.FACULTY, balance=1500)
    assert cancel_card(ctx, card.card_no, delegate=DELEGATE)["paid_out"] == 1500
    delegation = ctx.session.scalars(select(Delegation)).one()
    event = ctx.session.get(CardEvent, delegation.card_event_id)
    assert (event.card_id, event.from_state, event.to_state) == (card.id, S.ACTIVE, S.CANCELLED)
    assert (delegation.delegate_name, delegation.masked_delegate_id) == (
        "王五",
        "1101**********4567",
    )
    assert ctx.session.scalars(select(Refund.paid_to)).one() == {"to": "delegate"}
    assert check_ledger(ctx.session) == []


@pytest.mark.parametrize(
    "delegate",
    [{**DELEGATE, "evidence": None}, {**DELEGATE, "name": ""}, "holder's own id"],
    ids=["no-evidence", "no-name", "holder-id"],
)
def test_r16_r18_incomplete_delegation_cancels_nothing(ctx, make, delegate):
    card = make.card(P.FACULTY, balance=1500)
    if delegate == "holder's own id":
        delegate = {**DELEGATE, "id_number": card.person.id_number}
    with writes_nothing(ctx.session), pytest.raises(InvalidInput):
        cancel_card(ctx, card.card_no, delegate=delegate)
    assert card_by_no(ctx, card.card_no).state == S.ACTIVE
    assert card.account.purse.balance == 1500


def test_r10_r18_open_pre_deduction_settles_before_cancellation(ctx, make):
    card = make.card(balance=3000)
    water = make.terminal(make.merchant(MerchantCategory.WATER), kind=TerminalKind.WATER)
    pre_deduct(ctx, card.card_no, water, 500)
    assert cancel_card(ctx, card.card_no)["paid_out"] == 2500
    assert ctx.session.scalars(select(Hold.state)).one() == HoldState.SETTLED
    assert system_balance(ctx, AccountKind.HOLDS) == 0
    assert check_ledger(ctx.session) == []


def test_r18_cancelled_card_cannot_pay_or_be_cancelled_again(ctx, make):
    card = make.card(balance=1000)
    canteen = make.terminal()
    cancel_card(ctx, card.card_no)
    with writes_nothing(ctx.session):
        with pytest.raises(CardNotActive) as refused:
            purchase(ctx, card.card_no, canteen, 100)
        assert "已注销" in refused.value.message("zh")
        with pytest.raises(TransitionNotAllowed):
            cancel_card(ctx, card.card_no)


# --- R19 forced termination and the refund routes of R14 ---------------------------------------


@pytest.mark.parametrize(
    ("reason", "route"),
    [
        (R.GRADUATED, RefundRoute.BANK),
        (R.WITHDRAWN, RefundRoute.CASH),
        (R.LEFT, RefundRoute.CASH),
        (R.BREACH, RefundRoute.CLAIMANT),
        (R.MISSING, RefundRoute.CLAIMANT),
        (R.DECEASED, RefundRoute.CLAIMANT),
    ],
)
def test_r19_termination_leaves_a_pending_refund_on_its_route(ctx, at, make, reason, route):
    card = make.card(balance=2600)
    it_centre = at(ctx.now, actor="it:zhang")
    result = terminate_card(it_centre, card.card_no, reason)
    assert (result["state"], result["route"], result["refund"]) == ("terminated", route, 2600)
    refund = ctx.session.get(Refund, result["refund_id"])
    assert (refund.state, refund.route, refund.reason) == (RefundState.PENDING, route, reason)
    assert (refund.person_id, refund.card_id) == (card.person_id, card.id)
    assert card.account.purse.balance == 0
    event = last_event(ctx, card.card_no)
    assert (event.to_state, event.actor, event.channel, event.reason) == (
        S.TERMINATED,
        "it:zhang",
        "system",
        reason.value,
    )
    assert system_balance(ctx, AccountKind.REFUNDS) == pending_refunds(ctx.session) == 2600
    assert check_ledger(ctx.session) == []


def test_r19_termination_of_an_empty_card_owes_nothing(ctx, make):
    card = make.card()
    result = terminate_card(ctx, card.card_no, R.GRADUATED)
    assert (result["refund_id"], result["refund"]) == (None, 0)
    assert count(ctx, Refund) == 0


def test_r19_terminated_card_is_final(ctx, make):
    card = make.card(balance=1000)
    terminate_card(ctx, card.card_no, R.BREACH)
    with writes_nothing(ctx.session):
        for again in (
            lambda: terminate_card(ctx, card.card_no, R.LEFT),
            lambda: cancel_card(ctx, card.card_no),
        ):
            with pytest.raises(TransitionNotAllowed):
                again()


def test_r14_cash_refund_paid_at_the_counter_once(ctx, make):
    card = make.card(P.UNDERGRADUATE, balance=1800)
    refund_id = terminate_card(ctx, card.card_no, R.WITHDRAWN)["refund_id"]
    cash_before = system_balance(ctx, AccountKind.CASH)
    assert pay_refund(ctx, refund_id) == {"refund_id": refund_id, "paid_out": 1800}
    refund = ctx.session.get(Refund, refund_id)
    assert (refund.state, refund.paid_at, refund.paid_to) == (
        RefundState.PAID,
        ctx.now,
        {"to": "holder"},
    )
    assert system_balance(ctx, AccountKind.CASH) - cash_before == 1800
    assert system_balance(ctx, AccountKind.REFUNDS) == 0
    with writes_nothing(ctx.session), pytest.raises(Conflict) as refused:
        pay_refund(ctx, refund_id)
    assert "已支付" in refused.value.message("zh")
    assert check_ledger(ctx.session) == []


@pytest.mark.parametrize(
    "claimant",
    [None, {}, {"name": "赵六"}, {"id_number": "110105196504045678"}],
)
def test_r19_claimant_refund_needs_name_and_id(ctx, make, claimant):
    card = make.card(balance=5000)
    refund_id = terminate_card(ctx, card.card_no, R.DECEASED)["refund_id"]
    with writes_nothing(ctx.session), pytest.raises(InvalidInput):
        pay_refund(ctx, refund_id, claimant=claimant)
    assert ctx.session.get(Refund, refund_id).state == RefundState.PENDING
    assert check_ledger(ctx.session) == []


@pytest.mark.parametrize(
    "claimant",
    [
        {"name": " ", "id_number": " "},
        {"name": "赵六", "id_number": "\t"},
        {"name": "　", "id_number": "110105196504045678"},  # an ideographic space
    ],
)
def test_r19_blank_claimant_is_refused(ctx, make, claimant):
    card = make.card(balance=5000)
    refund_id = terminate_card(ctx, card.card_no, R.DECEASED)["refund_id"]
    with writes_nothing(ctx.session), pytest.raises(InvalidInput):
        pay_refund(ctx, refund_id, claimant=claimant)
    assert ctx.session.get(Refund, refund_id).state == RefundState.PENDING


def test_r14_expired_temporary_card_balance_is_paid_in_cash_on_cancellation(ctx, at, make):
    card = make.card(P.OTHER, balance=1200)
    later = at(ctx.now + timedelta(days=200))
    expire_cards(later)
    assert cancel_card(later, card.card_no)["paid_out"] == 1200
    assert card_by_no(ctx, card.card_no).state == S.CANCELLED
    assert check_ledger(ctx.session) == []


@pytest.mark.parametrize(
    "claimant",
    [CLAIMANT, {"name": " 赵六 ", "id_number": "110105196504045678\n"}],
    ids=["with-relation", "padded"],
)
def test_r19_lawful_claimant_collects_the_balance(ctx, make, claimant):
    """The claimant's name and ID are recorded, stripped; other keys are not kept."""
    card = make.card(balance=5000)
    refund_id = terminate_card(ctx, card.card_no, R.MISSING)["refund_id"]
    assert pay_refund(ctx, refund_id, claimant=claimant)["paid_out"] == 5000
    refund = ctx.session.get(Refund, refund_id)
    assert refund.state == RefundState.PAID
    assert refund.paid_to == {"to": "claimant", "name": "赵六", "id_number": "110105196504045678"}
    assert pending_refunds(ctx.session) == system_balance(ctx, AccountKind.REFUNDS) == 0
    assert check_ledger(ctx.session) == []


def graduate(ctx, make, balance: int, bank_card_no: str | None = "6217000000000000001") -> int:
    """A graduate's card terminated with `balance` left: its pending bank refund's id."""
    card = make.card(P.UNDERGRADUATE, balance=balance)
    card.account.bank_card_no = bank_card_no
    return terminate_card(ctx, card.card_no, R.GRADUATED)["refund_id"]


def test_r14_graduates_are_refunded_by_bank_batch_only(ctx, make):
    bank_ids = [graduate(ctx, make, amount) for amount in (1200, 3400)]
    leaver = make.card(P.FACULTY, balance=700)
    cash_id = terminate_card(ctx, leaver.card_no, R.LEFT)["refund_id"]
    with pytest.raises(Conflict):
        pay_refund(ctx, bank_ids[0])  # not at the counter
    bank_before = system_balance(ctx, AccountKind.BANK)
    result = pay_bank_refunds(ctx)
    assert result == {"count": 2, "total": 4600, "refund_ids": bank_ids, "without_bank_card": 0}
    assert system_balance(ctx, AccountKind.BANK) - bank_before == 4600
    assert ctx.session.get(Refund, cash_id).state == RefundState.PENDING
    assert system_balance(ctx, AccountKind.REFUNDS) == pending_refunds(ctx.session) == 700
    assert pay_bank_refunds(ctx) == {
        "count": 0,
        "total": 0,
        "refund_ids": [],
        "without_bank_card": 0,
    }
    assert check_ledger(ctx.session) == []


@pytest.mark.parametrize("bank_card_no", [None, ""], ids=["none", "blank"])
def test_r14_the_daily_bank_batch_leaves_out_holders_without_a_bank_card(ctx, make, bank_card_no):
    on_file, without = graduate(ctx, make, 1200), graduate(ctx, make, 800, bank_card_no)
    result = pay_bank_refunds(ctx)
    assert result == {"count": 1, "total": 1200, "refund_ids": [on_file], "without_bank_card": 1}
    assert ctx.session.get(Refund, without).state == RefundState.PENDING
    assert system_balance(ctx, AccountKind.REFUNDS) == pending_refunds(ctx.session) == 800
    assert pay_bank_refunds(ctx)["without_bank_card"] == 1  # left out again, not lost
    assert check_ledger(ctx.session) == []


def test_r14_a_graduate_without_a_bank_card_is_paid_in_cash_at_the_counter(ctx, make):
    refund_id, with_card = graduate(ctx, make, 900, None), graduate(ctx, make, 500)
    cash_before = system_balance(ctx, AccountKind.CASH)
    assert pay_refund(ctx, refund_id) == {"refund_id": refund_id, "paid_out": 900}
    refund = ctx.session.get(Refund, refund_id)
    assert (refund.state, refund.route) == (RefundState.PAID, RefundRoute.BANK)
    assert refund.paid_to == {"to": "holder", "note": "no bank card on file"}
    assert system_balance(ctx, AccountKind.CASH) - cash_before == 900  # cash, not the bank
    with writes_nothing(ctx.session), pytest.raises(Conflict) as refused:
        pay_refund(ctx, with_card)
    assert refused.value.message("zh") == "无法办理：该退款经银行批量退回"
    assert pay_bank_refunds(ctx)["refund_ids"] == [with_card]
    assert check_ledger(ctx.session) == []


def test_r14_a_termination_batch_pays_exactly_its_refunds(ctx, make):
    ours, other = [graduate(ctx, make, a) for a in (1200, 3400)], graduate(ctx, make, 500)
    result = pay_bank_refunds(ctx, refund_ids=list(reversed(ours)))
    assert result == {"count": 2, "total": 4600, "refund_ids": ours}
    assert ctx.session.get(Refund, other).state == RefundState.PENDING
    assert {ctx.session.get(Refund, i).paid_to["to"] for i in ours} == {"subsidy bank card"}
    assert pay_bank_refunds(ctx, refund_ids=[]) == {"count": 0, "total": 0, "refund_ids": []}
    assert check_ledger(ctx.session) == []


def _unknown(ctx, make, ids: list[int]) -> tuple[str, str]:
    ids.append(424242)
    return "不存在的退款 424242（共 1 笔）", "unknown: 424242 (1 in all)"


def _cash_route(ctx, make, ids: list[int]) -> tuple[str, str]:
    leaver = make.card(P.FACULTY, balance=300)
    ids.append(terminate_card(ctx, leaver.card_no, R.LEFT)["refund_id"])
    return f"不经银行退回的退款 {ids[-1]}（共 1 笔）", f"not bank refunds: {ids[-1]} (1 in all)"


def _paid_by_the_daily_batch(ctx, make, ids: list[int]) -> tuple[str, str]:
    pay_bank_refunds(ctx)
    first, second = ids
    return (
        f"已支付的退款 {first}、{second}（共 2 笔）",
        f"paid already: {first}, {second} (2 in all)",
    )


def _paid_at_the_counter(ctx, make, ids: list[int]) -> tuple[str, str]:
    ids.append(graduate(ctx, make, 700, bank_card_no=None))
    pay_refund(ctx, ids[-1])
    return f"已支付的退款 {ids[-1]}（共 1 笔）", f"paid already: {ids[-1]} (1 in all)"


@pytest.mark.parametrize(
    "spoil", [_unknown, _cash_route, _paid_by_the_daily_batch, _paid_at_the_counter]
)
def test_r14_a_termination_batch_that_disagrees_with_the_ledger_pays_nothing(ctx, make, spoil):
    """The batch the settlement centre sent to the bank is paid whole or not at all."""
    ids = [graduate(ctx, make, 1200), graduate(ctx, make, 3400)]
    zh, en = spoil(ctx, make, ids)
    with writes_nothing(ctx.session), pytest.raises(Conflict) as refused:
        pay_bank_refunds(ctx, refund_ids=ids)
    assert refused.value.message("zh") == f"无法办理：银行退款批次与账务不符，未支付任何一笔：{zh}"
    assert refused.value.message("en") == (
        f"Cannot proceed: the bank batch disagrees with the ledger, nothing was paid: {en}"
    )
    assert check_ledger(ctx.session) == []


def test_r14_a_termination_batch_names_at_most_twenty_refunds(ctx):
    with pytest.raises(Conflict) as refused:
        pay_bank_refunds(ctx, refund_ids=list(range(900001, 900026)))
    assert "900020 ...（共 25 笔）" in refused.value.message("zh")
    assert "900021" not in refused.value.message("zh")
    assert refused.value.message("en").endswith("900020 ... (25 in all)")


def test_r14_a_termination_batch_waits_for_a_refund_locked_elsewhere(committed_engine):
    """A refund of the batch that another transaction holds (a counter paying it) is waited
    for, never skipped: the batch and the ledger cannot disagree."""
    if committed_engine.dialect.name != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite locks the whole database")
    with Session(committed_engine) as session, session.begin():
        ctx = Ctx(session, "test:it", NOW, TEST_CONFIG)
        refund_id = graduate(ctx, Factories(ctx), 1200)
    with Session(committed_engine) as counter, counter.begin():
        counter.execute(select(Refund).where(Refund.id == refund_id).with_for_update())
        with Session(committed_engine) as batch, batch.begin():
            batch.execute(text("SET LOCAL lock_timeout = '200ms'"))
            with pytest.raises(OperationalError, match="lock timeout"):
                pay_bank_refunds(Ctx(batch, "test:settlement", NOW, TEST_CONFIG), [refund_id])


def test_unknown_refund_and_card_are_not_found(ctx):
    with pytest.raises(NotFound) as missing:
        pay_refund(ctx, 424242)
    assert missing.value.message("en") == "No refund found: 424242"
    with pytest.raises(NotFound):
        cancel_card(ctx, "0000000000")
    with pytest.raises(NotFound):
        terminate_card(ctx, "0000000000", R.LEFT)

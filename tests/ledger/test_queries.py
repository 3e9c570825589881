"""The counter's read-only look-ups: finding cardholders, their journal and refunds."""

from ledger.models.cards import CardState
from ledger.models.journal import EntryKind
from ledger.models.money import RefundState
from ledger.ops.cards import report_loss
from ledger.ops.closing import TerminationReason, terminate_card
from ledger.ops.money import TopUpMethod, claim_transitional, purchase, top_up
from ledger.ops.reissue import reissue_card
from ledger.queries import (
    card_account_of,
    cards_of,
    find_cardholders,
    idempotency_key_used,
    latest_card_event,
    pending_refunds,
    recent_journal,
)


def _names(found) -> list[str]:
    return [holder.person.name for holder in found]


def test_find_cardholders_by_part_of_the_name(ctx, make):
    make.card(name="欧阳明远")
    make.card(name="欧阳晓")
    make.person(name="司马光")
    assert _names(find_cardholders(ctx.session, "欧阳")) == ["欧阳明远", "欧阳晓"]
    assert _names(find_cardholders(ctx.session, "明远")) == ["欧阳明远"]


def test_find_cardholders_by_whole_card_number_or_its_start(ctx, make):
    card = make.card(name="持卡人甲")
    found = find_cardholders(ctx.session, card.card_no)
    assert _names(found) == ["持卡人甲"]
    assert [c.card_no for c in found[0].cards] == [card.card_no]
    assert "持卡人甲" in _names(find_cardholders(ctx.session, card.card_no[:6]))


def test_find_cardholders_by_last_digits_of_the_id_number(ctx, make):
    make.person(name="证件人", id_number="11010519800101731X")
    for suffix in ("731X", "1731x", "01731X"):
        assert "证件人" in _names(find_cardholders(ctx.session, suffix)), suffix
    assert "证件人" not in _names(find_cardholders(ctx.session, "1010519800101731X"))


def test_find_cardholders_takes_wildcards_literally_and_blank_finds_nobody(ctx, make):
    make.person(name="百分之百")
    assert find_cardholders(ctx.session, "%") == []
    assert find_cardholders(ctx.session, "  ") == []


def test_cards_of_lists_old_and_new_card_newest_first(ctx, make):
    card = make.card()
    new_no = reissue_card(ctx, card.card_no)["card_no"]
    cards = cards_of(ctx.session, card.person_id)
    assert [(c.card_no, c.state) for c in cards] == [
        (new_no, CardState.ACTIVE),
        (card.card_no, CardState.REPLACED),
    ]


def test_recent_journal_shows_what_each_entry_moved_on_the_balances(ctx, make, pos):
    card = make.card(balance=5000)
    purchase(ctx, card.card_no, pos, 1200)
    top_up(ctx, card.card_no, 300, TopUpMethod.WECHAT)
    claim_transitional(ctx, card.card_no, pos)
    lines = recent_journal(ctx.session, card.person_id)
    assert [(line.kind, line.purse_change, line.transitional_change) for line in lines] == [
        (EntryKind.CLAIM_TRANSITIONAL, 300, -300),
        (EntryKind.TOPUP_WECHAT, 0, 300),
        (EntryKind.PURCHASE, -1200, 0),
        (EntryKind.TOPUP_CASH, 5000, 0),
    ]
    assert lines[2].merchant is not None and lines[0].card_no == card.card_no
    # whole yuan-cent integers on PostgreSQL too (its sum of a bigint is numeric)
    assert {type(line.purse_change) for line in lines} == {int}
    assert len(recent_journal(ctx.session, card.person_id, limit=2)) == 2


def test_recent_journal_includes_fees_paid_in_cash_and_is_empty_without_an_account(ctx, make):
    card = make.card()
    reissue_card(ctx, card.card_no)
    (fee,) = recent_journal(ctx.session, card.person_id)
    assert (fee.kind, fee.amount, fee.purse_change) == (EntryKind.CARD_FEE, 2000, 0)
    person = make.person()
    assert recent_journal(ctx.session, person.id) == []
    assert card_account_of(ctx.session, person.id) is None


def test_pending_refunds_and_the_latest_card_event(ctx, make):
    card = make.card(balance=800)
    report_loss(ctx, card.card_no, "counter")
    assert latest_card_event(ctx.session, card.card_no).to_state == CardState.LOST
    terminate_card(ctx, card.card_no, TerminationReason.LEFT)
    (refund,) = pending_refunds(ctx.session, card.person_id)
    assert (refund.amount, refund.state) == (800, RefundState.PENDING)
    assert card_account_of(ctx.session, card.person_id).purse.balance == 0


def test_idempotency_key_used_once_an_operation_ran_with_it(ctx, make):
    card = make.card()
    assert not idempotency_key_used(ctx.session, "counter-key-1")
    top_up(ctx, card.card_no, 100, TopUpMethod.CASH, idempotency_key="counter-key-1")
    assert idempotency_key_used(ctx.session, "counter-key-1")

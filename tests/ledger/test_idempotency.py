"""Idempotency keys: a replay returns the first result and moves money once; the same key with
another payload is refused; a failed attempt, rolled back with its unit of work, leaves the
key free for the retry."""

import pytest
from sqlalchemy import select

from ledger.check import check_ledger
from ledger.errors import IdempotencyConflict, InsufficientBalance, InvalidInput, PasswordRequired
from ledger.models.money import IdempotencyKey
from ledger.ops.metering import pre_deduct, settle_hold
from ledger.ops.money import TopUpMethod, purchase, top_up
from ledger.ops.settlement import post_adjustment
from tests.ledger.helpers import balance, password_of, writes_nothing

KEY = "pos-17:20261127:000042"


@pytest.fixture
def card(make):
    return make.card(balance=10_000)


# (operation, its call with a key, the purse's balance after it has run once)
OPERATIONS = {
    "purchase": (lambda ctx, c, t, **kw: purchase(ctx, c.card_no, t["pos"], 700, **kw), 9300),
    "top_up": (lambda ctx, c, t, **kw: top_up(ctx, c.card_no, 700, TopUpMethod.CASH, **kw), 10_700),
    "pre_deduct": (lambda ctx, c, t, **kw: pre_deduct(ctx, c.card_no, t["water"], 700, **kw), 9300),
}


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_replay_returns_the_first_result_and_moves_money_once(ctx, card, pos, water, operation):
    call, after = OPERATIONS[operation]
    terminals = {"pos": pos, "water": water}
    first = call(ctx, card, terminals, idempotency_key=KEY)
    with writes_nothing(ctx.session):
        for _ in range(2):
            assert call(ctx, card, terminals, idempotency_key=KEY) == first
    assert balance(ctx, card.account.purse_id) == after
    assert check_ledger(ctx.session) == []


def test_without_a_key_every_call_moves_money(ctx, card, pos):
    for _ in range(2):
        purchase(ctx, card.card_no, pos, 700)
    assert balance(ctx, card.account.purse_id) == 8600


def test_different_keys_are_different_requests(ctx, card, pos):
    for key in (KEY, KEY + "-2"):
        purchase(ctx, card.card_no, pos, 700, idempotency_key=key)
    assert balance(ctx, card.account.purse_id) == 8600


def test_a_replay_returns_the_first_result_even_after_the_money_moved_on(ctx, card, pos):
    first = purchase(ctx, card.card_no, pos, 700, idempotency_key=KEY)
    purchase(ctx, card.card_no, pos, 1000)
    assert purchase(ctx, card.card_no, pos, 700, idempotency_key=KEY) == first
    assert first["balance"] == 9300
    assert balance(ctx, card.account.purse_id) == 8300


def test_a_replayed_settle_hold_returns_the_rest_once(ctx, card, water):
    pre_deduct(ctx, card.card_no, water, 700)
    first = settle_hold(ctx, card.card_no, water, 200, idempotency_key=KEY)
    assert settle_hold(ctx, card.card_no, water, 200, idempotency_key=KEY) == first
    assert balance(ctx, card.account.purse_id) == 9800
    assert check_ledger(ctx.session) == []


def test_a_replayed_adjustment_refunds_once(ctx, card, pos):
    entry_id = purchase(ctx, card.card_no, pos, 700)["entry_id"]
    for _ in range(2):
        post_adjustment(ctx, entry_id, 300, "double charge", idempotency_key=KEY)
    assert balance(ctx, card.account.purse_id) == 9600


@pytest.mark.parametrize(
    "second",
    [
        lambda ctx, c, other, t: purchase(ctx, c.card_no, t, 701, idempotency_key=KEY),
        lambda ctx, c, other, t: purchase(ctx, other.card_no, t, 700, idempotency_key=KEY),
        lambda ctx, c, other, t: top_up(ctx, c.card_no, 700, "cash", idempotency_key=KEY),
    ],
    ids=["other amount", "other card", "other operation"],
)
def test_the_same_key_with_another_payload_is_refused(ctx, make, card, pos, second):
    other = make.card(balance=10_000)
    purchase(ctx, card.card_no, pos, 700, idempotency_key=KEY)
    with writes_nothing(ctx.session), pytest.raises(IdempotencyConflict):
        second(ctx, card, other, pos)


def test_the_password_is_not_part_of_the_payload(ctx, card, pos):
    """A retry that carries the consumption password replays; none is stored in the key."""
    first = purchase(ctx, card.card_no, pos, 700, idempotency_key=KEY)
    pw = password_of(card)
    again = purchase(ctx, card.card_no, pos, 700, consume_password=pw, idempotency_key=KEY)
    assert again == first
    stored = ctx.session.scalar(select(IdempotencyKey).where(IdempotencyKey.key == KEY))
    assert pw not in repr(stored.result) and pw not in stored.request_hash


def test_the_same_payload_passed_by_keyword_replays(ctx, card, pos):
    first = purchase(ctx, card.card_no, pos, 700, idempotency_key=KEY)
    assert purchase(ctx, card.card_no, pos, amount=700, idempotency_key=KEY) == first
    assert balance(ctx, card.account.purse_id) == 9300


@pytest.mark.parametrize("key", ["", "x", "1234567", "x" * 121, 12345678])
def test_a_key_of_the_wrong_length_or_type_is_refused(ctx, card, pos, key):
    with writes_nothing(ctx.session), pytest.raises(InvalidInput):
        purchase(ctx, card.card_no, pos, 700, idempotency_key=key)


@pytest.mark.parametrize("key", ["12345678", "x" * 120])
def test_keys_of_8_to_120_characters_are_taken(ctx, card, pos, key):
    purchase(ctx, card.card_no, pos, 700, idempotency_key=key)
    assert balance(ctx, card.account.purse_id) == 9300


@pytest.mark.parametrize(
    ("amount", "with_password", "error"),
    [(20_000, True, InsufficientBalance), (6000, False, PasswordRequired)],
)
def test_a_failed_first_attempt_does_not_consume_the_key(
    ctx, card, pos, amount, with_password, error
):
    pw = password_of(card)
    # the request's unit of work (app/uow.py) rolls back everything when an operation raises
    with writes_nothing(ctx.session), pytest.raises(error), ctx.session.begin_nested():
        purchase(
            ctx,
            card.card_no,
            pos,
            amount,
            consume_password=pw if with_password else None,
            idempotency_key=KEY,
        )
    top_up(ctx, card.card_no, 20_000, TopUpMethod.CASH)
    result = purchase(ctx, card.card_no, pos, amount, consume_password=pw, idempotency_key=KEY)
    assert (result["amount"], result["balance"]) == (amount, 30_000 - amount)
    assert balance(ctx, card.account.purse_id) == 30_000 - amount
    assert check_ledger(ctx.session) == []


def test_a_failed_attempt_caught_inside_the_transaction_does_not_consume_the_key(ctx, make, pos):
    card = make.card(balance=1000)
    with pytest.raises(InsufficientBalance):
        purchase(ctx, card.card_no, pos, 3000, idempotency_key=KEY)
    top_up(ctx, card.card_no, 5000, TopUpMethod.CASH)
    result = purchase(ctx, card.card_no, pos, 3000, idempotency_key=KEY)
    assert result.get("amount") == 3000
    assert balance(ctx, card.account.purse_id) == 3000

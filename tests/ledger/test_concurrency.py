"""Real concurrency on SQLite and PostgreSQL (R02, R07, R08, R09, R14, R18): threads, each with
sessions of its own on the engine, each operation in its own transaction, as requests run.

The data is set up and committed first (`committed_engine` rebuilds the schema afterwards).
A thread's exception is collected and raised again in the test, never lost.

The last tests force one interleaving at a time instead of hoping for it: a first transaction
is paused at a chosen statement, or left open, while a second runs into it. On PostgreSQL they
wait until the second is seen blocked on a lock (pg_stat_activity); on SQLite the second
waits at BEGIN IMMEDIATE, so a short pause is all that can be observed.
"""

import random
import threading
import time
from collections import Counter
from contextlib import contextmanager

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session

from ledger.check import check_ledger
from ledger.context import Ctx
from ledger.errors import DomainError, InsufficientBalance, OneCardPerPerson, PasswordRequired
from ledger.models.accounts import AccountKind, LedgerAccount
from ledger.models.cards import Card, CardState
from ledger.models.journal import EntryKind
from ledger.models.money import IdempotencyKey
from ledger.ops.cards import issue_card
from ledger.ops.closing import TerminationReason, cancel_card, pay_refund, terminate_card
from ledger.ops.money import TopUpMethod, purchase, top_up
from tests.conftest import NOW, TEST_CONFIG
from tests.factories import Factories
from tests.ledger.helpers import (
    balance,
    card_by_no,
    entries,
    merchant_balance,
    password_of,
    system_account_id,
    system_balance,
)

THREADS = 8
PURCHASES_PER_THREAD = 10
INITIAL_BALANCE = 20000  # 200 yuan
LIMIT = TEST_CONFIG.daily_limit  # 50 yuan a day without the consumption password (R07)


def context(session: Session, actor: str) -> Ctx:
    return Ctx(session=session, actor=actor, now=NOW, config=TEST_CONFIG)


def run_together(count: int, work) -> list:
    """Run `work(i)` in `count` threads released together by a barrier; return their results
    in order, or raise the first exception any of them raised."""
    barrier = threading.Barrier(count)
    results: list = [None] * count
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except BaseException as exc:  # noqa: BLE001  (re-raised in the test's thread)
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,), name=f"ledger-{i}") for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    if errors:
        raise errors[0]
    return results


class Background:
    """One operation in a thread of its own; `result()` joins it and raises what it raised."""

    def __init__(self, work):
        self._value = self._error = None
        self._thread = threading.Thread(target=self._run, args=(work,), name="ledger-bg")
        self._thread.start()

    def _run(self, work) -> None:
        try:
            self._value = work()
        except BaseException as exc:  # noqa: BLE001  (re-raised by result())
            self._error = exc

    def done(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def result(self, timeout: float = 60):
        assert self.done(timeout), "the background operation hung"
        if self._error is not None:
            raise self._error
        return self._value


def wait_until_blocked(engine, timeout: float = 10.0) -> None:
    """Until another transaction waits on a lock. PostgreSQL shows it in pg_stat_activity;
    SQLite's waiter sits in BEGIN IMMEDIATE's busy handler, invisible, so pause briefly."""
    if engine.dialect.name != "postgresql":
        time.sleep(0.5)
        return
    deadline = time.monotonic() + timeout
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
            ).scalar()
            if waiting:
                return
            time.sleep(0.02)
    raise AssertionError("the second transaction never blocked: the interleaving was not forced")


@contextmanager
def paused_before(engine, marker: str):
    """A session whose connection stops before the first statement whose text or parameters
    contain `marker`, until `release` is set; `paused` is set when it stops there."""
    paused, release = threading.Event(), threading.Event()

    def hold(_conn, _cursor, statement, parameters, _context, _executemany):
        if not paused.is_set() and marker in f"{statement} {parameters!r}":
            paused.set()
            release.wait(timeout=30)

    with engine.connect() as connection:
        event.listen(connection, "before_cursor_execute", hold)
        try:
            with Session(bind=connection) as session:
                yield session, paused, release
        finally:
            release.set()
            event.remove(connection, "before_cursor_execute", hold)


def set_up(engine, *balances: int) -> tuple[list[str], str, str]:
    """Committed: student cards with the given cash balances and a canteen POS; returns the
    card numbers, the terminal's code and the first card's consumption password (R06)."""
    with Session(engine) as session, session.begin():
        make = Factories(context(session, "test:setup"))
        cards = [make.card(balance=balance) for balance in balances]
        terminal = make.terminal()
        password = password_of(cards[0])
        numbers = [card.card_no for card in cards]
    return numbers, terminal, password


def purse_of(session: Session, card_no: str) -> int:
    return balance(session, card_by_no(session, card_no).account.purse_id)


def assert_ledger_whole(session: Session) -> None:
    assert check_ledger(session) == []
    assert session.scalar(select(func.sum(LedgerAccount.balance))) == 0


def test_r07_r08_concurrent_purchases_on_one_card(committed_engine):
    """8 threads x 10 purchases on one card: the balance never goes below zero, purchases
    without the password never take the day above the limit, and every success saw the
    balance its predecessor left (no lost update)."""
    engine = committed_engine
    (card_no,), terminal, password = set_up(engine, INITIAL_BALANCE)
    plans = [
        [(rng.randint(100, 1500), rng.random() < 0.5) for _ in range(PURCHASES_PER_THREAD)]
        for rng in (random.Random(seed) for seed in range(THREADS))
    ]
    asked = Counter()
    for plan in plans:
        for amount, with_password in plan:
            asked[with_password] += amount
    # So that both refusals must happen, whatever the interleaving:
    assert asked[True] > INITIAL_BALANCE and asked[False] > LIMIT

    def shop(i: int) -> list[tuple]:
        outcomes = []
        for amount, with_password in plans[i]:
            try:
                with Session(engine) as session, session.begin():
                    result = purchase(
                        context(session, f"pos:{i}"),
                        card_no,
                        terminal,
                        amount,
                        consume_password=password if with_password else None,
                    )
            except DomainError as exc:
                outcomes.append((type(exc), amount, with_password, None))
            else:
                outcomes.append(("ok", amount, with_password, result["balance"]))
        return outcomes

    outcomes = [o for thread in run_together(THREADS, shop) for o in thread]
    successes = [o for o in outcomes if o[0] == "ok"]
    refused = Counter(o[0] for o in outcomes if o[0] != "ok")
    assert set(refused) == {PasswordRequired, InsufficientBalance}, refused
    assert all(o[2] is False for o in outcomes if o[0] is PasswordRequired)

    # Serialisable: ordered by the balance each reported, every success took its amount from
    # exactly the balance the one before it left.
    successes.sort(key=lambda o: -o[3])
    balance, spent = INITIAL_BALANCE, 0
    for _, amount, with_password, reported in successes:
        balance -= amount
        spent += amount
        assert reported == balance >= 0
        if not with_password:
            assert spent <= LIMIT, "a purchase without the password went above the daily limit"
    assert sum(o[1] for o in successes if not o[2]) <= LIMIT

    with Session(engine) as session:
        final = purse_of(session, card_no)
        assert final == INITIAL_BALANCE - spent >= 0
        # A refusal for want of money means the balance then, never below the final one, was
        # short; a refusal for want of the password means the day's total would pass the limit.
        assert all(o[1] > final for o in outcomes if o[0] is InsufficientBalance)
        assert all(o[1] + spent > LIMIT for o in outcomes if o[0] is PasswordRequired)
        assert sorted(entries(session, EntryKind.PURCHASE)) == sorted(o[1] for o in successes)
        account = card_by_no(session, card_no).account
        assert (account.spent_on, account.spent_today) == (NOW.date(), spent)
        assert merchant_balance(session, terminal) == spent
        assert_ledger_whole(session)


def test_idempotent_purchase_replayed_by_eight_threads_at_once(committed_engine):
    """The same idempotency key sent by 8 terminals at once: one purchase, one journal entry,
    and every terminal gets the first result."""
    engine = committed_engine
    (card_no,), terminal, _ = set_up(engine, INITIAL_BALANCE)
    key = "pos-retry-0001"

    def pay(i: int) -> dict:
        with Session(engine) as session, session.begin():
            return purchase(
                context(session, f"pos:{i}"), card_no, terminal, 1234, idempotency_key=key
            )

    results = run_together(THREADS, pay)
    assert all(result == results[0] for result in results), results
    assert results[0]["amount"] == 1234 and results[0]["balance"] == INITIAL_BALANCE - 1234
    with Session(engine) as session:
        assert entries(session, EntryKind.PURCHASE) == [1234]
        assert purse_of(session, card_no) == INITIAL_BALANCE - 1234
        stored = session.scalar(select(IdempotencyKey.result).where(IdempotencyKey.key == key))
        assert stored == results[0]
        assert_ledger_whole(session)


def test_idempotent_purchase_refused_by_eight_threads_at_once_keeps_no_key(committed_engine):
    """A refused request leaves no key behind: all 8 concurrent senders are refused alike,
    and the same key works once the card has the money."""
    engine = committed_engine
    (card_no,), terminal, password = set_up(engine, 1000)
    key = "pos-retry-0002"

    def pay(i: int) -> str:
        try:
            with Session(engine) as session, session.begin():
                purchase(
                    context(session, f"pos:{i}"),
                    card_no,
                    terminal,
                    3000,
                    consume_password=password,
                    idempotency_key=key,
                )
        except DomainError as exc:
            return type(exc).__name__
        return "ok"

    assert run_together(THREADS, pay) == ["InsufficientBalance"] * THREADS
    with Session(engine) as session, session.begin():
        assert session.get(IdempotencyKey, key) is None
        top_up(context(session, "test:clerk"), card_no, 5000, TopUpMethod.CASH)
    assert run_together(THREADS, pay) == ["ok"] * THREADS
    with Session(engine) as session:
        assert entries(session, EntryKind.PURCHASE) == [3000]
        assert purse_of(session, card_no) == 1000 + 5000 - 3000
        assert_ledger_whole(session)


def test_r09_first_wechat_top_ups_of_two_cards_at_once(committed_engine):
    """The first two WeChat top-ups ever, on two cards, overlapping: both land."""
    engine = committed_engine
    (first, second), _, _ = set_up(engine, 0, 0)
    with Session(engine) as session:
        found = system_account_id(session, AccountKind.WECHAT)
    assert found is None, "this test needs a ledger without a WeChat account yet"

    def second_top_up() -> dict:
        with Session(engine) as session, session.begin():
            return top_up(context(session, "wechat"), second, 700, TopUpMethod.WECHAT)

    other = None
    try:
        with Session(engine) as session, session.begin():
            top_up(context(session, "wechat"), first, 500, TopUpMethod.WECHAT)
            other = Background(second_top_up)
            wait_until_blocked(engine)
    finally:
        if other is not None:
            other.done(timeout=60)
    assert other.result()["transitional"] == 700
    with Session(engine) as session:
        assert system_balance(session, AccountKind.WECHAT) == -1200
        assert_ledger_whole(session)


def test_r14_r18_cancel_and_refund_payout_at_once(committed_engine):
    """A cancellation (its balance paid out in cash) and the payout of another pending cash
    refund, overlapping: both complete, neither deadlocks."""
    engine = committed_engine
    # Cash exists before refunds (a cash top-up comes first), as on any running system.
    (leaver, canceller), _, _ = set_up(engine, 4000, 3000)
    with Session(engine) as session, session.begin():
        refund_id = terminate_card(context(session, "hr"), leaver, TerminationReason.LEFT)[
            "refund_id"
        ]
        ids = dict(session.execute(select(LedgerAccount.code, LedgerAccount.id)).all())
    assert ids[AccountKind.CASH.value] < ids[AccountKind.REFUNDS.value]

    def pay_out() -> dict:
        with Session(engine) as session, session.begin():
            return pay_refund(context(session, "test:clerk"), refund_id)

    with paused_before(engine, EntryKind.REFUND_PAYOUT.value) as (session, paused, release):
        paying = None
        try:
            with session.begin():
                cancelling = Background(
                    lambda: cancel_card(context(session, "test:clerk"), canceller)
                )
                assert paused.wait(timeout=30), "the cancellation never reached its payout"
                paying = Background(pay_out)
                wait_until_blocked(engine)
                release.set()
                assert cancelling.result()["paid_out"] == 3000
        finally:
            release.set()
            if paying is not None:
                paying.done(timeout=60)  # whatever happened, no thread outlives the test
        assert paying.result()["paid_out"] == 4000
    with Session(engine) as session:
        assert system_balance(session, AccountKind.REFUNDS) == 0
        assert sorted(entries(session, EntryKind.REFUND_PAYOUT)) == [3000, 4000]
        assert_ledger_whole(session)


def test_r02_one_person_issued_cards_at_two_counters_at_once(committed_engine):
    """Two counters issue a card to the same newcomer at once: one card is issued, the other
    counter is told the person already holds one."""
    engine = committed_engine
    with Session(engine) as session, session.begin():
        person_id = Factories(context(session, "test:setup")).person().id

    def second_counter() -> dict:
        with Session(engine) as session, session.begin():
            return issue_card(context(session, "counter:2"), person_id)

    other = None
    try:
        with Session(engine) as session, session.begin():
            issue_card(context(session, "counter:1"), person_id)
            other = Background(second_counter)
            wait_until_blocked(engine)
    finally:
        if other is not None:
            other.done(timeout=60)
    with Session(engine) as session:
        states = session.scalars(select(Card.state).where(Card.person_id == person_id)).all()
        assert states == [CardState.ACTIVE], "R02: one person, one card"
    with pytest.raises(OneCardPerPerson):
        other.result()

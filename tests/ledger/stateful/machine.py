"""The whole machine: the rules of every area, the first cardholders, idempotent replays, the
clock, and the invariant checked after every step."""

from datetime import datetime, time, timedelta

from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, precondition, rule
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.check import check_ledger
from ledger.errors import IdempotencyConflict
from ledger.models.accounts import MAY_GO_NEGATIVE, AccountKind, CardAccount, LedgerAccount
from ledger.models.cards import Card
from ledger.models.merchants import Merchant, Terminal
from ledger.models.money import Hold, HoldState, Refund, RefundState
from ledger.models.people import NetworkStatus
from ledger.ops.metering import pre_deduct, settle_hold
from ledger.ops.money import TopUpMethod, claim_transitional, purchase, top_up
from ledger.ops.settlement import post_adjustment
from tests.conftest import SHANGHAI
from tests.ledger.stateful.cards import CardRules
from tests.ledger.stateful.closing import ClosingRules
from tests.ledger.stateful.merchants import MerchantRules
from tests.ledger.stateful.model import LIVE, choose, wrong
from tests.ledger.stateful.money import MoneyRules
from tests.ledger.stateful.strategies import CATEGORY, PICK

# Where the amount sits among the arguments of the keyed operations that take one.
AMOUNT_AT = {top_up: 1, purchase: 2, pre_deduct: 2, settle_hold: 2, post_adjustment: 1}


class LedgerMachine(CardRules, MoneyRules, ClosingRules, MerchantRules):
    """The ledger against its model, on a fresh in-memory SQLite database per example."""

    @initialize(
        people=st.lists(
            st.tuples(CATEGORY, st.sampled_from(NetworkStatus), st.integers(2000, 60000)),
            min_size=3,
            max_size=6,
        )
    )
    def issue_first_cards(self, people):
        """A few cardholders with money on their cards, so that every rule has work."""
        for category, network, balance in people:
            card_no = self.issue_for_new_person(category, network, False, 30, "none", "none")
            if balance:
                self.top_up(card_no, balance, TopUpMethod.CASH, "none")

    # -- idempotency ---------------------------------------------------------------------

    @precondition(lambda self: self.keyed)
    @rule(
        pick=PICK,
        mode=st.sampled_from(["same", "same", "other_password", "other_payload", "other_op"]),
    )
    def replay(self, pick, mode):
        """A replayed key returns the first result and changes nothing, whatever happened
        since; passwords are not part of the request. The same key with another payload or
        for another operation is refused before anything else is checked."""
        key = choose(sorted(self.keyed), pick)
        first = self.keyed[key]
        if mode == "other_payload" and first.fn in AMOUNT_AT:
            args = list(first.args)
            args[AMOUNT_AT[first.fn]] += 1
            self.call(first.fn, *args, key=key, expect=IdempotencyConflict, **first.kwargs)
        elif mode in ("other_payload", "other_op"):
            self.call(
                claim_transitional, "0000000000", "T-NONE", key=key, expect=IdempotencyConflict
            )
        else:
            kwargs = dict(first.kwargs)
            for name in ("consume_password", "query_password"):
                if mode == "other_password" and kwargs.get(name):
                    kwargs[name] = wrong(kwargs[name])
            result = self.call(first.fn, *first.args, key=key, **kwargs)
            assert result == first.result, "a replay must return the first result"
            self.keyed[key] = first

    # -- the clock -----------------------------------------------------------------------

    @rule(
        step=st.sampled_from(
            ["hour", "hours", "evening", "next_morning", "next_afternoon", "weekend", "month"]
        )
    )
    def advance_clock(self, step):
        """Time only moves forward; new days reset the daily limit (R07)."""
        local = self.now.astimezone(SHANGHAI)
        tomorrow = local.date() + timedelta(days=1)
        moved = {
            "hour": local + timedelta(hours=1),
            "hours": local + timedelta(hours=5),
            "evening": datetime.combine(local.date(), time(23, 59), SHANGHAI),
            "next_morning": datetime.combine(tomorrow, time(9, 15), SHANGHAI),
            "next_afternoon": datetime.combine(tomorrow, time(15, 30), SHANGHAI),
            "weekend": local + timedelta(days=2),
            "month": local + timedelta(days=31),
        }[step]
        self.now = moved if moved > local else local + timedelta(minutes=1)

    # -- the invariant -------------------------------------------------------------------

    @invariant()
    def database_agrees_with_model(self):
        """Every balance, hold, refund and card state is as the model says, and the ledger's
        own invariants hold (R02, R05, R08)."""
        rows = self.session.execute(
            select(LedgerAccount.id, LedgerAccount.kind, LedgerAccount.code, LedgerAccount.balance)
        ).all()
        balances = {row.id: row.balance for row in rows}
        self.assert_ledger_balances(rows, balances)
        self.assert_holders_and_merchants(balances)
        self.assert_holds_and_refunds()
        self.assert_cards()
        self.session.rollback()  # end the read transaction

    def assert_ledger_balances(self, rows: list, balances: dict[int, int]) -> None:
        """The journal balances and rebuilds every account; internal accounts stay at or
        above zero; the system accounts hold what the model moved."""
        assert sum(balances.values()) == 0, "the ledger does not balance"
        negative = [r for r in rows if r.kind not in MAY_GO_NEGATIVE and r.balance < 0]
        assert negative == [], f"internal accounts below zero: {negative}"
        assert check_ledger(self.session) == []
        system = {AccountKind(r.code): r.balance for r in rows if r.code is not None}
        for kind in set(system) | set(self.system):
            assert system.get(kind, 0) == self.system.get(kind, 0), kind

    def assert_holders_and_merchants(self, balances: dict[int, int]) -> None:
        """Each cardholder's purse and transitional balance, and each merchant's balance."""
        holders = self.session.execute(
            select(CardAccount.person_id, CardAccount.purse_id, CardAccount.transitional_id)
        ).all()
        assert {h.person_id for h in holders} == set(self.accounts)
        for person_id, purse_id, transitional_id in holders:
            model = self.accounts[person_id]
            assert (balances[purse_id], balances[transitional_id]) == (
                model.purse,
                model.transitional,
            ), f"person {person_id}"
        for code, account_id in self.session.execute(select(Merchant.code, Merchant.account_id)):
            assert balances[account_id] == self.merchants[code].balance, code

    def assert_holds_and_refunds(self) -> None:
        """The open pre-deductions (one per cardholder at most) and the refunds still owed."""
        holds = self.session.execute(
            select(CardAccount.person_id, Terminal.code, Hold.amount)
            .join(Hold, Hold.card_account_id == CardAccount.id)
            .join(Terminal, Terminal.id == Hold.terminal_id)
            .where(Hold.state == HoldState.PENDING)
        ).all()
        assert {p: (t, a) for p, t, a in holds} == {
            p: (a.hold.terminal, a.hold.amount) for p, a in self.accounts.items() if a.hold
        }
        pending = set(
            self.session.scalars(select(Refund.id).where(Refund.state == RefundState.PENDING))
        )
        assert pending == {r.id for r in self.refunds if not r.paid}

    def assert_cards(self) -> None:
        """Card states as modelled; final states kept (R05, R15); one live card a person (R02)."""
        states = dict(self.session.execute(select(Card.card_no, Card.state)).all())
        assert states == {no: card.state for no, card in self.cards.items()}
        for no, state in self.final.items():
            assert states[no] == state, f"card {no} left its final state {state}"
        doubled = self.session.execute(
            select(Card.person_id)
            .where(Card.state.in_(LIVE))
            .group_by(Card.person_id)
            .having(func.count() > 1)
        ).all()
        assert doubled == [], "a person holds two live cards (R02)"


class PostgresLedgerMachine(LedgerMachine):
    """The same machine inside an outer transaction on PostgreSQL, rolled back afterwards;
    each operation commits or rolls back a savepoint of its own."""

    pg_engine = None  # set by the test

    def open_session(self) -> Session:
        """A session on one connection whose outer transaction is never committed."""
        self.connection = self.pg_engine.connect()
        self.outer = self.connection.begin()
        return Session(bind=self.connection, join_transaction_mode="create_savepoint")

    def teardown(self):
        """Undo everything the example wrote."""
        self.session.close()
        self.outer.rollback()
        self.connection.close()

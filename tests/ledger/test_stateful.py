"""A stateful property test of the card ledger (R02-R19, R26).

Hypothesis drives random sequences of ledger operations; a small in-memory model predicts the
outcome of each one (success, or exactly which DomainError) and every balance it leaves.
After every step the database must agree with the model, and the ledger's own invariants must
hold: the journal rebuilds every balance, all balances sum to zero, no internal account is
negative, a person has at most one live card, and a card in a final state stays there.

Each example runs on its own database: a fresh in-memory SQLite engine with real commits, or
(in the smaller PostgreSQL run) an outer transaction on the session's database that is rolled
back afterwards, each operation in a savepoint. Every operation runs in its own transaction,
rolled back when it raises, as a request would.

The model and the machine live in tests/ledger/stateful/ (see its __init__.py); this module
holds the tests that run them.
"""

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from ledger.models.accounts import LedgerAccount
from ledger.ops.reissue import reissue_card
from tests.ledger.stateful.machine import LedgerMachine, PostgresLedgerMachine
from tests.ledger.stateful.model import CFG

STATEFUL_SETTINGS = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def test_stateful_ledger_on_sqlite():
    """The model and the ledger agree over random operation sequences (SQLite)."""
    run_state_machine_as_test(LedgerMachine, settings=STATEFUL_SETTINGS)


@pytest.mark.postgres
def test_stateful_ledger_on_postgresql(postgresql_engine):
    """A smaller run of the same machine on PostgreSQL."""
    machine = type("PostgresLedger", (PostgresLedgerMachine,), {"pg_engine": postgresql_engine})
    run_state_machine_as_test(
        machine, settings=settings(STATEFUL_SETTINGS, max_examples=15, stateful_step_count=30)
    )


def test_r15_reissue_reports_balance_after_fee(ctx, make):
    """R03, R15: with the fee paid from the balance, the result reports the balance left."""
    card = make.card(balance=10000)
    result = reissue_card(ctx, card.card_no, fee_from_balance=True)
    purse = ctx.session.get(LedgerAccount, card.account.purse_id)
    ctx.session.refresh(purse)
    assert purse.balance == 10000 - CFG.reissue_fee  # the ledger itself is right
    assert result["balance"] == purse.balance

"""The machine's rules for merchants: settlement and adjustments (R11)."""

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from ledger.errors import Conflict, InvalidAmount, NotFound
from ledger.models.accounts import AccountKind
from ledger.ops.settlement import post_adjustment, settle_merchant
from tests.ledger.stateful.base import MachineBase
from tests.ledger.stateful.model import MERCHANTS, choose
from tests.ledger.stateful.predict import predict_settlement
from tests.ledger.stateful.strategies import KEY, PICK


class MerchantRules(MachineBase):
    """What the office owes merchants, and what they owe cardholders back (R11)."""

    @rule(code=st.sampled_from([m[0] for m in MERCHANTS]))
    def settle_merchant(self, code):
        """R11: whole days from the last settlement through yesterday; the fee is 0.5% of a
        commercial merchant's net turnover, rounded half up; what the merchant held at
        midnight, less the fee, is paid out."""
        merchant = self.merchants[code]
        due = predict_settlement(merchant, self.today)
        expect = Conflict if due.period_start > due.period_end else None
        result = self.call(settle_merchant, code, expect=expect)
        if result is None:
            return
        assert {k: result[k] for k in due.as_result()} == due.as_result()
        self.move(AccountKind.MANAGEMENT_FEES, due.fee)
        self.move(AccountKind.BANK, due.payout)
        merchant.balance -= due.payout + due.fee
        merchant.settled_through = due.period_end

    @precondition(lambda self: self.turnover)
    @rule(
        pick=PICK,
        mode=st.sampled_from(["one", "rest", "rest", "too_much", "any", "not_turnover"]),
        amount=st.integers(1, 5000),
        key=KEY,
    )
    def adjust(self, pick, mode, amount, key):
        """R11: a double charge is paid back from the merchant's settlement account."""
        if mode == "not_turnover" and self.other_entries:
            entry_id = choose(self.other_entries, pick)
            self.call(
                post_adjustment,
                entry_id,
                1,
                "not a purchase",
                expect=NotFound,
                key=self.key_for(key),
            )
            return
        entry = choose(self.turnover, pick)
        remaining = entry.amount - entry.adjusted
        amount = {"one": 1, "rest": remaining, "too_much": remaining + 1}.get(mode, amount)
        # The merchant may be left owing the office (its balance below zero); a closed
        # account's holder is refunded instead.
        expect = None if 0 < amount <= remaining else InvalidAmount
        if self.accounts[entry.person_id].closed:
            expect = Conflict
        result = self.call(
            post_adjustment,
            entry.entry_id,
            amount,
            "double charge",
            expect=expect,
            key=self.key_for(key),
        )
        if result is None:
            return
        assert (result["corrects"], result["amount"]) == (entry.entry_id, amount)
        entry.adjusted += amount
        self.merchants[entry.merchant].debit(self.today, amount)
        self.accounts[entry.person_id].purse += amount

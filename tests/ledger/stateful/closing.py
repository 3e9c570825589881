"""The machine's rules for ending cards and paying out what their holders are owed."""

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from ledger.models.accounts import AccountKind
from ledger.models.money import RefundRoute
from ledger.ops.closing import (
    TerminationReason,
    cancel_card,
    pay_bank_refunds,
    pay_refund,
    terminate_card,
)
from tests.ledger.stateful.base import MachineBase
from tests.ledger.stateful.model import ROUTE, MCard, MRefund, S, choose
from tests.ledger.stateful.predict import refund_error, transition_error
from tests.ledger.stateful.strategies import KEY, LIVE_BIAS, PICK


class ClosingRules(MachineBase):
    """Cancellation, termination and refunds (R14, R18, R19)."""

    def close_account(self, card: MCard) -> int:
        """R14, R19: the hold settles, then purse and transitional go to refunds owed."""
        self.settle_open_hold_in_full(card.person_id)
        account = self.accounts[card.person_id]
        total = account.purse + account.transitional
        account.purse = account.transitional = 0
        account.closed = True
        self.move(AccountKind.REFUNDS, total)
        return total

    @precondition(lambda self: self.enough_live_cards())
    @rule(pick=PICK, live=LIVE_BIAS, key=KEY)
    def cancel(self, pick, live, key):
        """R18: cancelled at the counter, the balance paid out in cash at once."""
        card = self.pick_card(pick, live)
        expect = transition_error(card, S.CANCELLED)
        result = self.call(cancel_card, card.card_no, expect=expect, key=self.key_for(key))
        if result is None:
            return
        self.set_state(card, S.CANCELLED)
        total = self.close_account(card)
        self.pay_out(total, AccountKind.CASH)
        assert result == {"card_no": card.card_no, "state": "cancelled", "paid_out": total}

    @precondition(lambda self: self.enough_live_cards())
    @rule(pick=PICK, live=LIVE_BIAS, reason=st.sampled_from(TerminationReason), key=KEY)
    def terminate(self, pick, live, reason, key):
        """R19: the IT centre ends a card; the balance waits on the route R14 gives."""
        card = self.pick_card(pick, live)
        expect = transition_error(card, S.TERMINATED)
        result = self.call(
            terminate_card, card.card_no, reason, expect=expect, key=self.key_for(key)
        )
        if result is None:
            return
        self.set_state(card, S.TERMINATED)
        total = self.close_account(card)
        assert (result["refund"], result["route"]) == (total, ROUTE[reason].value)
        assert (result["refund_id"] is None) == (total == 0)
        if total:
            self.refunds.append(MRefund(result["refund_id"], total, ROUTE[reason], card.person_id))

    @precondition(lambda self: self.refunds)
    @rule(pick=PICK, claimant=LIVE_BIAS, key=KEY)
    def pay_refund(self, pick, claimant, key):
        """R14, R19: cash at the counter; a claimant's identity is recorded; bank by batch
        unless the holder has no bank card on file."""
        refund = choose(self.refunds, pick)
        who = {"name": "王五", "id_number": "110105198001011234"} if claimant else None
        expect = refund_error(refund, claimant, self.accounts[refund.person_id].bank_bound)
        result = self.call(
            pay_refund, refund.id, claimant=who, expect=expect, key=self.key_for(key)
        )
        if result is None:
            return
        assert result == {"refund_id": refund.id, "paid_out": refund.amount}
        refund.paid = True
        self.pay_out(refund.amount, AccountKind.CASH)

    @precondition(
        lambda self: any(r.route == RefundRoute.BANK and not r.paid for r in self.refunds)
    )
    @rule()
    def pay_bank_refunds(self):
        """R14: graduates' balances go back to their subsidy bank cards in one batch; those
        of holders with no bank card on file are left out (paid at the counter)."""
        owed = [r for r in self.refunds if r.route == RefundRoute.BANK and not r.paid]
        due = [r for r in owed if self.accounts[r.person_id].bank_bound]
        result = self.call(pay_bank_refunds)
        assert result["refund_ids"] == [r.id for r in due]
        assert result["total"] == sum(r.amount for r in due)
        assert result["without_bank_card"] == len(owed) - len(due)
        for refund in due:
            refund.paid = True
            self.pay_out(refund.amount, AccountKind.BANK)

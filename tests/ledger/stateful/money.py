"""The machine's rules for cardholders' money: top-ups, purchases, metering and services."""

from datetime import timedelta

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from ledger.errors import InvalidInput, NotAllowed
from ledger.models.accounts import AccountKind
from ledger.models.cards import CardType, Channel
from ledger.ops.metering import pre_deduct, settle_hold
from ledger.ops.money import TopUpMethod, claim_transitional, purchase, top_up
from ledger.ops.services import bind_bank_card, change_daily_limit, pay_network_fee
from tests.ledger.stateful.base import MachineBase
from tests.ledger.stateful.model import (
    BAD_BANK_CARD,
    CFG,
    GOOD_BANK_CARD,
    POS_TERMINALS,
    TOP_UP_SOURCE,
    MHold,
    choose,
    given_password,
    wrong,
)
from tests.ledger.stateful.predict import (
    active_error,
    card_password_error,
    daily_limit_error,
    network_fee_error,
    pre_deduct_error,
    purchase_error,
    settle_hold_error,
    top_up_error,
)
from tests.ledger.stateful.strategies import (
    KEY,
    LIVE_BIAS,
    METER_TERMINAL,
    METERS,
    PASSWORD_MODE,
    PICK,
    PURCHASE_TERMINAL,
    RARELY,
    SPEND_AMOUNT,
    TOP_UP_AMOUNT,
)


class MoneyRules(MachineBase):
    """Money into and out of cardholders' accounts (R06-R10, R17, R26)."""

    # -- money in ------------------------------------------------------------------------

    @precondition(lambda self: self.cards)
    @rule(
        pick=PICK,
        live=LIVE_BIAS,
        amount=TOP_UP_AMOUNT,
        method=st.sampled_from(TopUpMethod),
        key=KEY,
    )
    def top_up_card(self, pick, live, amount, method, key):
        """R09: a top-up to a card, mostly an active one."""
        self.top_up(self.pick_card(pick, live).card_no, amount, method, key)

    def top_up(self, card_no, amount, method, key):
        """R09: cash in counter hours, bank from a bound card, WeChat to the transitional."""
        card = self.cards[card_no]
        account = self.accounts[card.person_id]
        expect = top_up_error(card, account, amount, method, self.now)
        result = self.call(
            top_up, card.card_no, amount, method, expect=expect, key=self.key_for(key)
        )
        if result is None:
            return
        if method == TopUpMethod.WECHAT:
            account.transitional += amount
        else:
            account.purse += amount
        self.move(TOP_UP_SOURCE[method], -amount)
        assert (result["balance"], result["transitional"]) == (account.purse, account.transitional)
        self.other_entries.append(result["entry_id"])

    @precondition(lambda self: self.cards)
    @rule(pick=PICK, live=LIVE_BIAS, good_number=LIVE_BIAS, right=LIVE_BIAS)
    def bind_bank_card(self, pick, live, good_number, right):
        """R09: the Bank of China debit card that kiosk transfers come from."""
        card = self.pick_card(pick, live)
        result = self.call(
            bind_bank_card,
            card.card_no,
            GOOD_BANK_CARD if good_number else BAD_BANK_CARD,
            query_password=given_password(self.password_of(card), right),
            expect=card_password_error(card, self.today, right) if good_number else InvalidInput,
        )
        if result is not None:
            self.accounts[card.person_id].bank_bound = True

    @precondition(lambda self: self.cards)
    @rule(pick=PICK, live=LIVE_BIAS, terminal=st.sampled_from(POS_TERMINALS), key=KEY)
    def claim_transitional(self, pick, live, terminal, key):
        """R09: a card shown at an idle POS takes its WeChat top-ups (whether a metering
        controller may take them too is left to tests/ledger/test_topups.py)."""
        card = self.pick_card(pick, live)
        account = self.accounts[card.person_id]
        expect = active_error(card, self.today)
        if expect is None and not self.terminals[terminal].active:
            expect = NotAllowed
        result = self.call(
            claim_transitional, card.card_no, terminal, expect=expect, key=self.key_for(key)
        )
        if result is None:
            return
        claimed, account.transitional = account.transitional, 0
        account.purse += claimed
        assert (result["claimed"], result["balance"]) == (claimed, account.purse)
        assert (result["entry_id"] is None) == (claimed == 0)

    # -- money out -----------------------------------------------------------------------

    @precondition(lambda self: self.cards)
    @rule(
        pick=PICK,
        live=LIVE_BIAS,
        terminal=PURCHASE_TERMINAL,
        amount=SPEND_AMOUNT,
        password_mode=PASSWORD_MODE,
        key=KEY,
    )
    def purchase(self, pick, live, terminal, amount, password_mode, key):
        """R07, R08, R11, R17: never below zero; above the day's limit only with the password."""
        card = self.pick_card(pick, live)
        account = self.accounts[card.person_id]
        password = self.password_of(card)
        term = self.terminals[terminal]
        merchant = self.merchants[term.merchant]
        result = self.call(
            purchase,
            card.card_no,
            terminal,
            amount,
            consume_password={"none": None, "right": password, "wrong": wrong(password)}[
                password_mode
            ],
            expect=purchase_error(card, account, term, merchant, amount, password_mode, self.today),
            key=self.key_for(key),
        )
        if result is None:
            return
        spent = account.spent_on_day(self.today) + amount
        account.purse -= amount
        account.spent_on, account.spent_today = self.today, spent
        assert (result["balance"], result["merchant"]) == (account.purse, merchant.code)
        self.record_turnover(result["entry_id"], amount, card.person_id, merchant.code)

    @precondition(lambda self: self.cards)
    @rule(
        pick=PICK,
        amounts=st.lists(st.integers(100, 3000), min_size=1, max_size=4),
        terminal=st.sampled_from(["T-CANTEEN", "T-SHOP"]),
        password_mode=st.sampled_from(["none", "none", "none", "right"]),
    )
    def lunch(self, pick, amounts, terminal, password_mode):
        """A few purchases on one card within the hour, mostly without the password: the
        daily limit bites (R07)."""
        for amount in amounts:
            self.purchase(pick, True, terminal, amount, password_mode, "none")

    @precondition(lambda self: self.cards)
    @rule(pick=PICK, live=LIVE_BIAS, terminal=METER_TERMINAL, amount=SPEND_AMOUNT, key=KEY)
    def pre_deduct(self, pick, live, terminal, amount, key):
        """R10: the first tap holds the amount; an open hold elsewhere settles in full."""
        card = self.pick_card(pick, live)
        account = self.accounts[card.person_id]
        term = self.terminals[terminal]
        expect = pre_deduct_error(card, account, terminal, term, amount, self.today)
        result = self.call(
            pre_deduct, card.card_no, terminal, amount, expect=expect, key=self.key_for(key)
        )
        if result is None:
            return
        self.settle_open_hold_in_full(card.person_id)
        account.purse -= amount
        self.move(AccountKind.HOLDS, amount)
        account.hold = MHold(terminal, amount, card.card_no)
        assert result["held"] == amount

    @precondition(lambda self: self.cards)
    @rule(
        pick=PICK,
        terminal=METERS,
        amount=st.integers(100, 1500),
        percent=st.integers(0, 100),
        walk_away=RARELY,
    )
    def shower(self, pick, terminal, amount, percent, walk_away):
        """Two taps at one controller (R10), or one tap and the card walks away."""
        card = self.pick_card(pick, True)
        self.pre_deduct(pick, True, terminal, amount, "none")
        hold = self.accounts[card.person_id].hold
        if hold is not None and hold.card_no == card.card_no and not walk_away:
            self.settle_hold(pick, True, terminal, percent, False, "none", card=card)

    @precondition(lambda self: any(a.hold for a in self.accounts.values()))
    @rule(
        pick=PICK,
        same_terminal=LIVE_BIAS,
        other=METERS,
        percent=st.integers(0, 100),
        over=RARELY,
        key=KEY,
    )
    def settle_hold(self, pick, same_terminal, other, percent, over, key, card=None):
        """R10: the second tap at the same controller charges what was used."""
        if card is None:
            card = choose([c for c in self.cards.values() if self.accounts[c.person_id].hold], pick)
        account = self.accounts[card.person_id]
        hold = account.hold
        terminal = hold.terminal if hold is not None and same_terminal else other
        held = hold.amount if hold is not None else 100
        used = held + 1 if over else held * percent // 100
        expect = settle_hold_error(hold, terminal, used)
        result = self.call(
            settle_hold, card.card_no, terminal, used, expect=expect, key=self.key_for(key)
        )
        if result is None:
            return
        self.release_hold(card.person_id, used, result["entry_id"])
        assert (result["used"], result["returned"]) == (used, hold.amount - used)
        assert result["balance"] == account.purse

    # -- services ------------------------------------------------------------------------

    @precondition(lambda self: self.cards)
    @rule(pick=PICK, live=LIVE_BIAS, weeks=st.integers(0, 5), right=LIVE_BIAS, key=KEY)
    def pay_network_fee(self, pick, live, weeks, right, key):
        """R26: students registered and not suspended; 1-4 weeks; never a week twice."""
        students = [c for c in self.cards.values() if c.card_type == CardType.STUDENT]
        card = self.pick_card(pick, live) if not students or pick % 3 else choose(students, pick)
        person = self.people[card.person_id]
        account = self.accounts[card.person_id]
        monday = self.today - timedelta(days=self.today.weekday())
        week_starts = {monday + timedelta(weeks=i) for i in range(weeks)}
        amount = weeks * CFG.network_fee_per_week
        result = self.call(
            pay_network_fee,
            card.card_no,
            weeks,
            query_password=given_password(person.password, right),
            expect=network_fee_error(card, person, account, week_starts, right, self.today),
            key=self.key_for(key),
        )
        if result is None:
            return
        account.purse -= amount
        account.weeks |= week_starts
        self.move(AccountKind.NETWORK_FEES, amount)
        assert result["amount"] == amount
        assert result["weeks"] == [w.isoformat() for w in sorted(week_starts)]

    @precondition(lambda self: self.cards)
    @rule(
        pick=PICK,
        live=LIVE_BIAS,
        new_limit=st.sampled_from([0, 2000, 5000, 10000, 60000, 60001]),
        right=LIVE_BIAS,
        at_counter=RARELY,
    )
    def change_daily_limit(self, pick, live, new_limit, right, at_counter):
        """R07: only at a kiosk, with the consumption password, at most 600 yuan."""
        card = self.pick_card(pick, live)
        result = self.call(
            change_daily_limit,
            card.card_no,
            new_limit,
            channel=Channel.COUNTER if at_counter else Channel.KIOSK,
            consume_password=given_password(self.password_of(card), right),
            expect=daily_limit_error(card, new_limit, right, at_counter, self.today),
        )
        if result is not None:
            self.accounts[card.person_id].daily_limit = new_limit

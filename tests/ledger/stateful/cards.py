"""The machine's rules for cards: issue, loss, freeze, reissue, extension and expiry."""

from datetime import timedelta

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from ledger.models.accounts import AccountKind
from ledger.models.cards import CardType, Channel
from ledger.models.people import IdType, NetworkStatus, Person
from ledger.ops.cards import (
    expire_cards,
    extend_card,
    freeze_card,
    issue_card,
    lift_freeze,
    report_loss,
    unfreeze_card,
)
from ledger.ops.reissue import reissue_card
from tests.ledger.stateful.base import MachineBase
from tests.ledger.stateful.model import (
    CARD_TYPE,
    CFG,
    SELF_SERVICE,
    MAccount,
    MCard,
    MPerson,
    S,
    capped_expiry,
    choose,
    given_password,
    reissue_fee,
)
from tests.ledger.stateful.predict import (
    channel_error,
    extend_error,
    issue_error,
    reissue_error,
    state_error,
    transition_error,
)
from tests.ledger.stateful.strategies import (
    CATEGORY,
    KEY,
    LIVE_BIAS,
    LOSS_CHANNEL,
    PICK,
    RARELY,
    VALID_DAYS,
)


class CardRules(MachineBase):
    """Cards through their life (R01-R05, R13, R15, R20, R22)."""

    @rule(
        category=CATEGORY,
        network=st.sampled_from(NetworkStatus),
        x_check=st.booleans(),
        valid_days=VALID_DAYS,
        department=st.sampled_from(["none", "none", "own", "wrong"]),
        key=KEY,
    )
    def issue_new(self, category, network, x_check, valid_days, department, key):
        """R01-R04, R20: a newcomer's first card (an ID number may end in X, R06)."""
        self.issue_for_new_person(category, network, x_check, valid_days, department, key)

    def issue_for_new_person(self, category, network, x_check, valid_days, department, key):
        """A new person in the card system, then their card; returns its number if issued."""
        n = next(self.seq)
        id_number = f"1101051990{n:07d}" + ("X" if x_check else str(n % 10))
        person = Person(
            name=f"持卡人{n}",
            id_type=IdType.RESIDENT_ID,
            id_number=id_number,
            category=category,
            department_id=self.dept_id,
            network_status=network,
        )
        self.session.add(person)
        self.session.commit()
        self.people[person.id] = MPerson(person.id, CARD_TYPE[category], id_number, network)
        return self.issue(self.people[person.id], valid_days, department, key)

    @precondition(lambda self: self.people)
    @rule(pick=PICK, valid_days=VALID_DAYS, key=KEY)
    def issue_again(self, pick, valid_days, key):
        """R02, R03: someone known to the card system asks for a card again."""
        self.issue(choose(list(self.people.values()), pick), valid_days, "none", key)

    def issue(self, person: MPerson, valid_days: int, department: str, key: str) -> str | None:
        """R01-R04, R20: a card at the counter, the fee paid in cash."""
        temporary = person.card_type == CardType.TEMPORARY
        valid_until = self.today + timedelta(days=valid_days) if temporary else None
        kwargs = {"valid_until": valid_until}
        if department != "none":
            kwargs["applying_department_id"] = (
                self.dept_id if department == "own" else self.other_dept_id
            )
        live = self.live_card(person.id) is not None
        expect = issue_error(department, valid_until, self.today, live)
        result = self.call(issue_card, person.id, expect=expect, key=self.key_for(key), **kwargs)
        if result is None:
            return None
        fee = CFG.temporary_card_fee if temporary else (CFG.reissue_fee if person.had_card else 0)
        expires = capped_expiry(valid_until, self.today) if temporary else None
        assert result["fee"] == fee
        assert result["card_type"] == person.card_type.value
        assert result["expires_on"] == (expires.isoformat() if expires else None)
        assert (result["entry_id"] is None) == (fee == 0)
        person.had_card = True
        self.accounts.setdefault(person.id, MAccount()).closed = False
        self.move(AccountKind.CASH, -fee)
        self.move(AccountKind.CARD_FEES, fee)
        no = result["card_no"]
        self.cards[no] = MCard(no, person.id, person.card_type, S.ACTIVE, expires, self.today)
        return no

    def change_by_channel(self, op, card: MCard, channel, right, before, after) -> dict | None:
        """R13: `op` takes a card in state `before` to `after`, at the counter or by
        self-service with the query password."""
        query_password = (
            given_password(self.password_of(card), right) if channel in SELF_SERVICE else None
        )
        expect = channel_error(channel, right) or state_error(card, before)
        result = self.call(op, card.card_no, channel, query_password=query_password, expect=expect)
        if result is not None:
            self.set_state(card, after)
        return result

    @precondition(lambda self: self.cards)
    @rule(pick=PICK, live=LIVE_BIAS, channel=LOSS_CHANNEL, right=LIVE_BIAS)
    def report_loss(self, pick, live, channel, right):
        """R13: the card stops working at once; self-service needs the query password."""
        card = self.pick_card(pick, live)
        result = self.change_by_channel(report_loss, card, channel, right, S.ACTIVE, S.LOST)
        if result is not None:
            assert result["state"] == S.LOST.value

    @precondition(lambda self: self.cards)
    @rule(pick=PICK, channel=LOSS_CHANNEL, right=LIVE_BIAS)
    def unfreeze(self, pick, channel, right):
        """R13, R15: a found card is unfrozen; a replaced one never is."""
        lost = [c for c in self.cards.values() if c.state in (S.LOST, S.REPLACED)]
        card = choose(lost or list(self.cards.values()), pick)
        self.change_by_channel(unfreeze_card, card, channel, right, S.LOST, S.ACTIVE)

    @precondition(lambda self: self.cards)
    @rule(pick=PICK, live=LIVE_BIAS, lift=st.booleans())
    def freeze_or_lift(self, pick, live, lift):
        """R05, R19: the card office freezes a card, and lifts its own freeze."""
        card = self.pick_card(pick, live)
        if lift:
            op, reason, after = lift_freeze, "lifted", S.ACTIVE
            expect = state_error(card, S.FROZEN)
        else:
            op, reason, after = freeze_card, "breach", S.FROZEN
            expect = transition_error(card, S.FROZEN)
        if self.call(op, card.card_no, reason, expect=expect) is not None:
            self.set_state(card, after)

    @precondition(lambda self: self.cards)
    @rule(
        pick=PICK,
        live=LIVE_BIAS,
        kiosk=RARELY,
        fee_from_balance=st.booleans(),
        key=KEY,
    )
    def reissue(self, pick, live, kiosk, fee_from_balance, key):
        """R03, R15: same account and balance on a new card; the old one is void at once."""
        card = self.pick_card(pick, live)
        account = self.accounts[card.person_id]
        fee = reissue_fee(card.card_type)
        from_balance = fee_from_balance or kiosk  # the kiosk takes no cash
        result = self.call(
            reissue_card,
            card.card_no,
            channel=Channel.REISSUE_KIOSK if kiosk else Channel.COUNTER,
            fee_from_balance=fee_from_balance,
            expect=reissue_error(card, account, kiosk, from_balance),
            key=self.key_for(key),
        )
        if result is None:
            return
        assert (result["fee"], result["replaces"]) == (fee, card.card_no)
        self.set_state(card, S.REPLACED)
        if from_balance:
            account.purse -= fee
        else:
            self.move(AccountKind.CASH, -fee)
        assert result["balance"] == account.purse
        self.move(AccountKind.CARD_FEES, fee)
        new = result["card_no"]
        self.cards[new] = MCard(
            new, card.person_id, card.card_type, S.ACTIVE, card.expires_on, self.today, True
        )

    @precondition(lambda self: any(c.card_type == CardType.TEMPORARY for c in self.cards.values()))
    @rule(pick=PICK, days=st.integers(-3, 500))
    def extend(self, pick, days):
        """R22, R04: a temporary card's new expiry is at most a year away."""
        card = choose([c for c in self.cards.values() if c.card_type == CardType.TEMPORARY], pick)
        until = self.today + timedelta(days=days)
        live_elsewhere = card.state == S.EXPIRED and self.live_card(card.person_id) is not None
        expect = extend_error(card, until, self.today, live_elsewhere)
        result = self.call(extend_card, card.card_no, until, expect=expect)
        if result is None:
            return
        new_expiry = capped_expiry(until, self.today)
        assert result["expires_on"] == new_expiry.isoformat()
        card.expires_on = new_expiry
        if card.state == S.EXPIRED:
            self.set_state(card, S.ACTIVE)

    @precondition(lambda self: self.due_to_expire())
    @rule()
    def expire(self):
        """R04: temporary cards past their expiry move to `expired`."""
        due = self.due_to_expire()
        result = self.call(expire_cards)
        assert set(result) == due and len(result) == len(due)
        for no in due:
            self.set_state(self.cards[no], S.EXPIRED)

    def due_to_expire(self) -> set[str]:
        """The temporary cards, still active or lost, whose expiry has passed (R04)."""
        return {
            c.card_no
            for c in self.cards.values()
            if c.card_type == CardType.TEMPORARY
            and c.state in (S.ACTIVE, S.LOST)
            and c.expires_on < self.today
        }

"""The machine without its rules: the database, how an operation is called and checked, the
campus each example starts from, and the bookkeeping that several rules share."""

import itertools
from datetime import date, timedelta

from hypothesis.stateful import RuleBasedStateMachine
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

import ledger.models  # noqa: F401  (registers every table)
from ledger.base import Base
from ledger.context import Ctx
from ledger.db import configure_engine
from ledger.errors import DomainError
from ledger.models.accounts import AccountKind
from ledger.models.cards import CardState
from ledger.models.journal import EntryKind, JournalEntry
from ledger.models.merchants import TerminalKind
from ledger.models.people import Department, DepartmentKind
from ledger.ops.merchants import admit_merchant, disable_terminal, register_terminal
from tests.conftest import NOW, SHANGHAI
from tests.ledger.stateful.model import (
    ALLOWED,
    CFG,
    DISABLED_TERMINAL,
    FINAL,
    LIVE,
    MERCHANTS,
    Keyed,
    MAccount,
    MCard,
    MMerchant,
    MPerson,
    MRefund,
    MTerminal,
    MTurnover,
    S,
    choose,
)


class MachineBase(RuleBasedStateMachine):
    """The ledger against its model, on a fresh in-memory SQLite database per example."""

    def __init__(self):
        super().__init__()
        self.session = self.open_session()
        self.now = NOW
        self.seq = itertools.count(1)
        self.people: dict[int, MPerson] = {}
        self.accounts: dict[int, MAccount] = {}
        self.cards: dict[str, MCard] = {}
        self.final: dict[str, CardState] = {}
        self.merchants: dict[str, MMerchant] = {}
        self.terminals: dict[str, MTerminal] = {}
        self.system: dict[AccountKind, int] = {}
        self.refunds: list[MRefund] = []
        self.turnover: list[MTurnover] = []
        self.other_entries: list[int] = []
        self.keyed: dict[str, Keyed] = {}
        self.free_keys: list[str] = []
        self.set_up_campus()

    # -- the database --------------------------------------------------------------------

    def open_session(self) -> Session:
        """A fresh in-memory SQLite database with every table."""
        self.engine = configure_engine(create_engine("sqlite://"))
        Base.metadata.create_all(self.engine)
        return Session(self.engine)

    def teardown(self):
        """Close the session; the in-memory database goes with its engine."""
        self.session.close()
        self.engine.dispose()

    def ctx(self) -> Ctx:
        """The context of one operation, at the machine's clock."""
        return Ctx(session=self.session, actor="test:stateful", now=self.now, config=CFG)

    @property
    def today(self) -> date:
        """The campus calendar day of the machine's clock."""
        return self.now.astimezone(SHANGHAI).date()

    def read(self, statement):
        """A read in a transaction of its own."""
        value = self.session.scalar(statement)
        self.session.rollback()
        return value

    def call(self, fn, *args, expect=None, key=None, **kwargs):
        """Run one operation in its own transaction; it must fail exactly as predicted."""
        if key is not None:
            kwargs["idempotency_key"] = key
        name = getattr(fn, "__name__", repr(fn))
        try:
            result = fn(self.ctx(), *args, **kwargs)
        except DomainError as exc:
            self.session.rollback()
            if key is not None and key not in self.keyed:
                self.free_keys.append(key)  # rolled back with the failed call: free again
            assert expect is not None, f"{name}{args} {kwargs}: predicted success, got {exc!r}"
            assert type(exc) is expect, f"{name}{args}: predicted {expect.__name__}, got {exc!r}"
            return None
        self.session.commit()
        assert expect is None, f"{name}{args}: predicted {expect.__name__}, got {result}"
        if key is not None:
            kwargs.pop("idempotency_key")
            self.keyed[key] = Keyed(fn, args, kwargs, result)
        return result

    def key_for(self, mode: str) -> str | None:
        """No idempotency key, a new one, or one a failed call left unused."""
        if mode == "none":
            return None
        if mode == "reuse" and self.free_keys:
            return self.free_keys.pop()
        return f"idem-key-{next(self.seq):06d}"

    def last_entry(self, kind: EntryKind) -> int:
        """The id of the newest journal entry of `kind`."""
        return self.read(select(func.max(JournalEntry.id)).where(JournalEntry.kind == kind))

    # -- the campus ----------------------------------------------------------------------

    def set_up_campus(self) -> None:
        """Two departments, and the merchants with their terminals, one of them disabled."""
        n = next(self.seq)
        own = Department(
            code=f"D{n}", name_zh="学院", name_en="College", kind=DepartmentKind.COLLEGE
        )
        other = Department(
            code=f"E{n}", name_zh="后勤", name_en="Services", kind=DepartmentKind.UNIT
        )
        self.session.add_all([own, other])
        self.session.flush()
        self.dept_id, self.other_dept_id = own.id, other.id
        self.admit_merchants(other.id)
        assert self.merchants["SHOP"].fee_bp == CFG.management_fee_bp
        assert self.merchants["CANTEEN"].fee_bp == 0
        self.session.commit()

    def admit_merchants(self, department_id: int) -> None:
        """The merchants of MERCHANTS, run and supervised by `department_id`."""
        ctx = self.ctx()
        yesterday = self.today - timedelta(days=1)  # nothing before admission to settle
        for code, category, commercial, terminals in MERCHANTS:
            result = admit_merchant(
                ctx,
                code=code,
                name=code.title(),
                category=category,
                location="第一食堂",
                operator_department_id=department_id,
                supervising_department_id=department_id,
                commercial=commercial,
            )
            self.merchants[code] = MMerchant(code, category, result["fee_rate_bp"], yesterday)
            for terminal, kind in terminals:
                register_terminal(ctx, code, terminal, kind, "第一食堂")
                self.terminals[terminal] = MTerminal(code, kind)
        register_terminal(ctx, "CANTEEN", DISABLED_TERMINAL, TerminalKind.POS, "第一食堂")
        disable_terminal(ctx, DISABLED_TERMINAL)
        self.terminals[DISABLED_TERMINAL] = MTerminal("CANTEEN", TerminalKind.POS, active=False)

    # -- picking -------------------------------------------------------------------------

    def pick_card(self, pick: int, live: bool) -> MCard:
        """A card, among the active ones if `live` and there are any."""
        active = [c for c in self.cards.values() if c.state == S.ACTIVE]
        pool = active if live and active else list(self.cards.values())
        return choose(pool, pick)

    def enough_live_cards(self) -> bool:
        """Cards are ended only while at least three are active, so that money keeps moving."""
        return sum(c.state == S.ACTIVE for c in self.cards.values()) >= 3

    def live_card(self, person_id: int) -> MCard | None:
        """R02: a person's one live card, if any."""
        live = [c for c in self.cards.values() if c.person_id == person_id and c.state in LIVE]
        assert len(live) <= 1
        return live[0] if live else None

    def password_of(self, card: MCard) -> str:
        """The holder's password: query and consumption passwords start alike (R06), and the
        model never changes them."""
        return self.people[card.person_id].password

    # -- bookkeeping ---------------------------------------------------------------------

    def move(self, kind: AccountKind, delta: int) -> None:
        """Change the model's balance of a system account (cash, bank, fees, holds ...)."""
        self.system[kind] = self.system.get(kind, 0) + delta

    def set_state(self, card: MCard, state: CardState) -> None:
        """A change of state the ledger's table allows (R05); final states are remembered."""
        assert state in ALLOWED[card.state]
        card.state = state
        if state in FINAL:
            self.final[card.card_no] = state

    def record_turnover(self, entry_id: int, amount: int, person_id: int, code: str) -> None:
        """A purchase or a settled hold: the merchant's turnover, which an adjustment may
        correct (R11)."""
        self.merchants[code].credit(self.today, amount)
        self.turnover.append(MTurnover(entry_id, amount, person_id, code))

    def release_hold(self, person_id: int, used: int, entry_id: int) -> None:
        """R10: the merchant gets what was used of a pre-deduction, the purse the rest."""
        account = self.accounts[person_id]
        hold = account.hold
        self.record_turnover(entry_id, used, person_id, self.terminals[hold.terminal].merchant)
        account.purse += hold.amount - used
        self.move(AccountKind.HOLDS, -hold.amount)
        account.hold = None

    def settle_open_hold_in_full(self, person_id: int) -> None:
        """R10: an open pre-deduction left behind goes to its merchant in full."""
        hold = self.accounts[person_id].hold
        if hold is not None:
            self.release_hold(person_id, hold.amount, self.last_entry(EntryKind.HOLD_SETTLE))

    def pay_out(self, amount: int, to: AccountKind) -> None:
        """Refunds owed leave the office, in cash or to a bank card (R14, R18, R19)."""
        self.move(AccountKind.REFUNDS, -amount)
        self.move(to, amount)

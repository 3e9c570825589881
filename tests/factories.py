"""Factories for ledger tests: each returns a fresh object with sensible defaults."""

import itertools
from datetime import timedelta

from ledger.context import Ctx
from ledger.models.cards import Card
from ledger.models.merchants import MerchantCategory, TerminalKind
from ledger.models.people import Department, DepartmentKind, IdType, Person, PersonCategory
from ledger.ops.cards import issue_card
from ledger.ops.merchants import admit_merchant, find_merchant, register_terminal
from ledger.ops.money import TopUpMethod, top_up

_seq = itertools.count(1)


class Factories:
    """Bound to one context; every call makes a new row."""

    def __init__(self, ctx: Ctx):
        self.ctx = ctx

    def department(self, code: str | None = None, kind=DepartmentKind.COLLEGE) -> Department:
        n = next(_seq)
        dept = Department(
            code=code or f"D{n:04d}", name_zh=f"单位{n}", name_en=f"Unit {n}", kind=kind
        )
        self.ctx.session.add(dept)
        self.ctx.session.flush()
        return dept

    def person(self, category=PersonCategory.UNDERGRADUATE, department=None, **kw) -> Person:
        n = next(_seq)
        person = Person(
            name=kw.pop("name", f"测试{n}"),
            id_type=kw.pop("id_type", IdType.RESIDENT_ID),
            id_number=kw.pop("id_number", f"11010519900101{n:04d}"[-18:]),
            category=category,
            department=department or self.department(),
            **kw,
        )
        self.ctx.session.add(person)
        self.ctx.session.flush()
        return person

    def card(self, category=PersonCategory.UNDERGRADUATE, balance: int = 0, **kw) -> Card:
        """A person with an issued card, topped up in cash with `balance` fen."""
        person = kw.pop("person", None) or self.person(category, **kw)
        valid_until = self.ctx.today + timedelta(days=180)
        result = issue_card(
            self.ctx,
            person.id,
            valid_until=valid_until if category == PersonCategory.OTHER else None,
        )
        if balance:
            top_up(self.ctx, result["card_no"], balance, TopUpMethod.CASH)
        return self.ctx.session.query(Card).filter_by(card_no=result["card_no"]).one()

    def merchant(self, category=MerchantCategory.CANTEEN, commercial=False, **kw):
        n = next(_seq)
        code = kw.pop("code", f"M{n:04d}")
        dept = self.department(kind=DepartmentKind.UNIT)
        admit_merchant(
            self.ctx,
            code=code,
            name=kw.pop("name", f"商户{n}"),
            category=category,
            location=kw.pop("location", "第一食堂"),
            operator_department_id=dept.id,
            supervising_department_id=dept.id,
            commercial=commercial,
            **kw,
        )
        return find_merchant(self.ctx, code)

    def terminal(self, merchant=None, kind=TerminalKind.POS, **kw) -> str:
        """A registered terminal's code (a new canteen merchant's unless `merchant` is given)."""
        merchant = merchant or self.merchant(**kw)
        code = f"T{next(_seq):05d}"
        register_terminal(self.ctx, merchant.code, code, kind, merchant.location)
        return code

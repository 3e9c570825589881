"""Merchant requests' fixtures and helpers: a supervising department and its approver,
an admitted canteen, merchants the applicant may not act on, and the steps of each process."""

import pytest
from sqlalchemy import select

from ledger.models.merchants import Terminal, TerminalKind
from ledger.models.people import DepartmentKind
from ledger.ops.merchants import (
    admit_merchant,
    close_merchant,
    find_merchant,
    register_terminal,
)
from workflows import runtime
from workflows.identity import Role, RoleGrant, User
from workflows.spiff import TaskState

ONBOARDING, REVOCATION = "merchant_onboarding", "merchant_revocation"


@pytest.fixture
def overseer(desk, make, db_session):
    """A supervising department (the logistics office) other than the operating unit, and
    its approver, `desk.users["overseer"]`."""
    office = make.department(kind=DepartmentKind.OFFICE)
    user = User(username=f"overseer{office.id}", display_name="后勤处", password_hash="-")
    user.grants.append(RoleGrant(role=Role.SUPERVISING_DEPT, department_id=office.id))
    admin = User(username=f"admin{office.id}", display_name="管理员", password_hash="-")
    admin.grants.append(RoleGrant(role=Role.ADMIN, department_id=None))
    db_session.add_all([user, admin])
    db_session.flush()
    desk.users |= {"overseer": user, "admin": admin}
    return office


@pytest.fixture
def canteen(ctx, home, overseer):
    """An admitted merchant run by `home`, supervised by `overseer`, with one POS."""
    admit_merchant(
        ctx, code="CANTEEN1", name="第一食堂", category="canteen", location="第一食堂",
        operator_department_id=home.id, supervising_department_id=overseer.id, commercial=False,
    )  # fmt: skip
    register_terminal(ctx, "CANTEEN1", "POS-1-01", TerminalKind.POS, "第一食堂一楼")
    return find_merchant(ctx, "CANTEEN1")


def new_merchant(overseer, code="SHOP1", commercial=False, terminals=None, **details) -> dict:
    """A new merchant's application: its details and one POS unless `terminals` are given."""
    merchant = {
        "name": "学苑超市", "category": "shop", "location": "学苑楼一层",
        "supervising_department_id": overseer.id, "commercial": commercial,
        "settlement_account": "6216-0001-0002",
    } | details  # fmt: skip
    if terminals is None:
        terminals = [{"code": "POS-S-01", "kind": "pos", "location": "学苑楼一层收银台"}]
    return {"kind": "new", "merchant_code": code, "merchant": merchant, "terminals": terminals}


def apply(desk, home, data: dict, process=ONBOARDING):
    """The operating unit (`home`) files `process` with `data`."""
    return desk.start("applicant", process, data, home.id)


def through_settlement(desk, instance, commercial=False):
    """The supervising department approves; the settlement centre confirms the account and,
    for a commercial merchant, records the signed agreement; waiting at the card office."""
    desk.approve("overseer", instance, "supervising_review")
    desk.approve("settlement", instance, "account_review", account_confirmed=True)
    if commercial:
        desk.approve(
            "settlement", instance, "agreement", agreement_signed=True, agreement_no="XY-2026-07"
        )


def ended_at(desk, instance) -> list[str]:
    """The end events the instance reached."""
    with desk._at():
        workflow = runtime.open_workflow(desk.env(None), instance)
    ends = workflow.get_tasks(state=TaskState.COMPLETED)
    return sorted(t.task_spec.bpmn_id for t in ends if type(t.task_spec).__name__ == "EndEvent")


def terminal(session, code: str) -> Terminal | None:
    """The terminal registered as `code`, or None."""
    return session.scalar(select(Terminal).where(Terminal.code == code))


def told(desk, who: str, kind: str) -> list[str]:
    """The Chinese texts of the `kind` notifications `who` received."""
    return [note.text_zh for note in desk.notes(who) if note.kind == kind]


@pytest.fixture
def others(canteen, home, ctx, make):
    """Merchants the applicant may not act on: OTHER1 of another unit (with POS-X-01) and
    CLOSED1, the applicant's own but closed."""
    make.merchant(code="OTHER1")
    register_terminal(ctx, "OTHER1", "POS-X-01", TerminalKind.POS, "一楼")
    admit_merchant(
        ctx, code="CLOSED1", name="旧店", category="shop", location="旧址",
        operator_department_id=home.id, supervising_department_id=home.id, commercial=False,
    )  # fmt: skip
    close_merchant(ctx, "CLOSED1")


def messages(errors) -> list[str]:
    """Every message of marshmallow's (nested) errors."""
    if isinstance(errors, dict):
        return [m for inner in errors.values() for m in messages(inner)]
    return (
        [m for inner in errors for m in messages(inner)] if isinstance(errors, list) else [errors]
    )


def revoke(desk, home, code="CANTEEN1"):
    """`home` files the revocation of merchant `code`."""
    return apply(desk, home, {"merchant_code": code, "reason": "承包期满"}, REVOCATION)


def approve_closing(desk, instance):
    """Settled to zero: the supervising department approves and the IT centre confirms."""
    desk.approve("overseer", instance, "supervising_review")
    desk.approve("it", instance, "it_confirm")

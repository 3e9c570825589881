"""Merchants (R11, R23, R24): the actions of `merchant_onboarding` (check the application,
then admit the merchant and register its terminals, or add or move terminals) and of
`merchant_revocation` (check the request, settle the account to zero, close the merchant and
its terminals).

The checks only read (and tell the department when the request is invalid); what they find
wrong ends the request as 申请无效. What the ledger refuses later, after the check passed, is
a race (a code taken, a merchant closed meanwhile): it becomes an incident.
"""

from datetime import timedelta

from sqlalchemy import select

from forms.merchants import NEW
from ledger.models.accounts import LedgerAccount
from ledger.models.merchants import Merchant, OpenState, Terminal
from ledger.models.people import Department
from ledger.ops import merchants as merchant_ops
from ledger.ops.common import yuan
from ledger.ops.settlement import settle_merchant
from workflows.context import Env
from workflows.procedures.common import Problems, checked, tell_department, verdict
from workflows.registry import action


def _merchant(env: Env, code: str) -> Merchant | None:
    return env.session.scalar(select(Merchant).where(Merchant.code == code))


def _terminal(env: Env, code: str) -> Terminal | None:
    return env.session.scalar(select(Terminal).where(Terminal.code == code))


def _own_open_merchant(env: Env, code: str, department_id) -> tuple[Merchant | None, Problems]:
    """The merchant `code` and what keeps the filing unit from acting on it: it must exist,
    be open and be run by that unit (R23: the operator files for its own merchants)."""
    merchant = _merchant(env, code)
    if merchant is None:
        return None, [(f"商户 {code} 不存在", f"merchant {code} does not exist")]
    if merchant.state != OpenState.ACTIVE:
        return merchant, [(f"商户 {code} 已撤销", f"merchant {code} is closed")]
    if merchant.operator_department_id != department_id:
        return merchant, [(f"商户 {code} 不是本单位经营的", f"merchant {code} is not run by you")]
    return merchant, []


def _free_terminal_codes(env: Env, terminals: list[dict]) -> Problems:
    return [
        (f"终端编号 {t['code']} 已登记", f"terminal {t['code']} is registered already")
        for t in terminals
        if _terminal(env, t["code"]) is not None
    ]


def _movable(env: Env, merchant: Merchant, moves: list[dict]) -> Problems:
    """Each terminal to move is an open one of the merchant's, going somewhere new."""
    problems = []
    for move in moves:
        code, terminal = move["terminal_code"], _terminal(env, move["terminal_code"])
        if terminal is None or terminal.merchant_id != merchant.id:
            problems.append((f"终端 {code} 不属于该商户", f"terminal {code} is not the merchant's"))
        elif terminal.state != OpenState.ACTIVE:
            problems.append((f"终端 {code} 已停用", f"terminal {code} is closed"))
        elif terminal.location == move["location"]:
            problems.append((f"终端 {code} 已在该地点", f"terminal {code} is there already"))
    return problems


def _department_problems(env: Env, department_id, supervising_department_id) -> Problems:
    problems = []
    if department_id is None or env.session.get(Department, department_id) is None:
        problems.append(("须以经营单位名义申请", "file the request for the operating unit"))
    if env.session.get(Department, supervising_department_id) is None:
        problems.append(("主管部门不存在", "the supervising department does not exist"))
    return problems


@action("merchants.check_application", inert=True)
def check_application(
    env: Env,
    instance_id: int,
    kind: str,
    merchant_code: str,
    department_id: int | None,
    merchant: dict | None,
    terminals: list[dict],
    moves: list[dict],
) -> dict:
    """R23: whether the application can go to its approvers. A new merchant's code and
    terminal codes must be free; terminals are added to, or moved for, an open merchant of
    the filing unit. Found: the supervising department who approves (a new merchant's as
    filed, otherwise the merchant's own) and the merchant's name."""
    if kind == NEW:
        supervising = merchant["supervising_department_id"]
        problems = _department_problems(env, department_id, supervising)
        if _merchant(env, merchant_code) is not None:
            problems.append((f"商户编号 {merchant_code} 已被使用", f"{merchant_code} is taken"))
        problems += _free_terminal_codes(env, terminals)
        found = verdict(
            problems, supervising_department_id=supervising, merchant_name=merchant["name"]
        )
    else:
        admitted, problems = _own_open_merchant(env, merchant_code, department_id)
        if not problems:
            problems = _free_terminal_codes(env, terminals) + _movable(env, admitted, moves)
        found = verdict(
            problems,
            supervising_department_id=admitted.supervising_department_id if admitted else None,
            merchant_name=admitted.name if admitted else None,
        )
    return checked(env, instance_id, found)


def _register(env: Env, merchant_code: str, terminals: list[dict]) -> list[str]:
    ctx = env.ledger_ctx()
    for t in terminals:
        merchant_ops.register_terminal(ctx, merchant_code, t["code"], t["kind"], t["location"])
    return [t["code"] for t in terminals]


@action("merchants.carry_out_application")
def carry_out_application(
    env: Env,
    instance_id: int,
    kind: str,
    merchant_code: str,
    department_id: int,
    merchant: dict | None,
    terminals: list[dict],
    moves: list[dict],
) -> dict:
    """R23: what was approved, in one transaction: admit the new merchant (`merchant`: its
    name, category, location, supervising department, commercial, settlement days and
    account; a commercial one pays the ledger's 0.5%) and register each terminal at its
    approved place; or register the added terminals; or move the terminals."""
    ctx, result = env.ledger_ctx(), {"kind": kind, "merchant": merchant_code}
    if kind == NEW:
        admitted = merchant_ops.admit_merchant(
            ctx, code=merchant_code, operator_department_id=department_id, **merchant
        )
        result["fee_rate_bp"] = admitted["fee_rate_bp"]
        result["settlement_days"] = admitted["settlement_days"]
    for move in moves:
        merchant_ops.move_terminal(ctx, move["terminal_code"], move["location"])
    result["registered"] = _register(env, merchant_code, terminals)
    result["moved"] = [move["terminal_code"] for move in moves]
    done_zh = "、".join(result["registered"] + result["moved"]) or "无"
    tell_department(
        env, instance_id, "done",
        f"商户 {merchant_code} 的接入申请已办结，已登记或迁移的终端：{done_zh}",
        f"Merchant {merchant_code}: the application is carried out "
        f"(terminals: {', '.join(result['registered'] + result['moved']) or 'none'})",
    )  # fmt: skip
    return result


@action("merchants.check_revocation", inert=True)
def check_revocation(
    env: Env, instance_id: int, merchant_code: str, department_id: int | None
) -> dict:
    """R24: the merchant to close exists, is open and is the filing unit's. Found: its
    supervising department (who approves), its name and what its account holds."""
    merchant, problems = _own_open_merchant(env, merchant_code, department_id)
    found = verdict(
        problems,
        supervising_department_id=merchant.supervising_department_id if merchant else None,
        merchant_name=merchant.name if merchant else None,
        balance=_balance(env, merchant) if merchant else None,
    )
    return checked(env, instance_id, found)


def _balance(env: Env, merchant: Merchant) -> int:
    return env.session.get(LedgerAccount, merchant.account_id).balance


@action("merchants.settle_for_revocation")
def settle_for_revocation(env: Env, merchant_code: str) -> dict:
    """R24, R11: settle the merchant through yesterday if any day is unsettled (nothing
    otherwise), and report what remains: `remaining` fen on its account and `open_holds`
    pre-deductions. The request goes on only when both are zero; today's takings are settled
    tomorrow."""
    ctx = env.ledger_ctx()
    merchant = merchant_ops.find_merchant(ctx, merchant_code, lock=True)
    due = merchant.settled_through < ctx.today - timedelta(days=1)
    settled = settle_merchant(ctx, merchant_code) if due else None  # refuses a closed one
    remaining, holds = _balance(env, merchant), merchant_ops.open_holds(ctx, merchant)
    return {
        "settled": settled,
        "remaining": remaining,
        "remaining_yuan": yuan(remaining),
        "open_holds": holds,
        "zero": remaining == 0 and holds == 0,
    }


@action("merchants.close")
def close(env: Env, instance_id: int, merchant_code: str) -> dict:
    """R24: close the merchant and all its terminals (the ledger refuses while money or a
    pre-deduction is open: taken since the settlement, that is an incident to retry once the
    settlement centre has settled again)."""
    result = merchant_ops.close_merchant(env.ledger_ctx(), merchant_code)
    tell_department(
        env, instance_id, "done",
        f"商户 {merchant_code} 已撤销，其终端已全部停用",
        f"Merchant {merchant_code} is closed with all its terminals",
    )  # fmt: skip
    return result

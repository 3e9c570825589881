"""The ledger side of merchant admission and revocation (R23, R24) and their terminals."""

from datetime import timedelta

from sqlalchemy import func, select, update

from ledger.context import Ctx
from ledger.errors import Conflict, InvalidInput, NotAllowed, NotFound
from ledger.models.accounts import AccountKind, LedgerAccount
from ledger.models.merchants import Merchant, MerchantCategory, OpenState, Terminal, TerminalKind
from ledger.models.money import Hold, HoldState
from ledger.models.people import Department
from ledger.ops.common import yuan
from ledger.posting import new_account


def find_merchant(ctx: Ctx, code: str, *, lock: bool = False) -> Merchant:
    """A merchant by code; with `lock`, its row and its account row stay locked."""
    query = select(Merchant).where(Merchant.code == code)
    if lock:
        query = query.join(Merchant.account).with_for_update()
    merchant = ctx.session.scalar(query.execution_options(populate_existing=lock))
    if merchant is None:
        raise NotFound(what_zh="商户", what_en="merchant", key=code)
    return merchant


def admit_merchant(
    ctx: Ctx,
    *,
    code: str,
    name: str,
    category: MerchantCategory,
    location: str,
    operator_department_id: int,
    supervising_department_id: int,
    commercial: bool,
    fee_rate_bp: int | None = None,
    settlement_days: int | None = None,
    settlement_account: str | None = None,
) -> dict:
    """R23: admit an establishment run by a university unit, with its settlement account
    (`settlement_account`, the account opened with the finance office that payouts go to).

    A commercial merchant pays the management fee (0.5% by default); settlement is weekly
    unless its agreement sets another period (R11).
    """
    for dept_id in (operator_department_id, supervising_department_id):
        if ctx.session.get(Department, dept_id) is None:
            raise NotFound(what_zh="单位", what_en="department", key=dept_id)
    if not code or not name or not location:
        raise InvalidInput(
            reason_zh="商户编号、名称和地点必填", reason_en="code, name and place are required"
        )
    if ctx.session.scalar(select(Merchant.id).where(Merchant.code == code)) is not None:
        raise Conflict(reason_zh=f"商户编号 {code} 已存在", reason_en=f"merchant {code} exists")
    rate = (
        (ctx.config.management_fee_bp if fee_rate_bp is None else fee_rate_bp) if commercial else 0
    )
    days = ctx.config.settlement_days if settlement_days is None else settlement_days
    if not 0 <= rate <= 10000 or days < 1:
        raise InvalidInput(
            reason_zh="费率或结算周期无效", reason_en="invalid fee rate or settlement period"
        )
    merchant = Merchant(
        code=code,
        name=name,
        category=MerchantCategory(category),
        location=location,
        operator_department_id=operator_department_id,
        supervising_department_id=supervising_department_id,
        commercial=commercial,
        fee_rate_bp=rate,
        settlement_days=days,
        settlement_account=settlement_account or None,
        account=new_account(ctx.session, AccountKind.MERCHANT),
        state=OpenState.ACTIVE,
        admitted_at=ctx.now,
        settled_through=ctx.today - timedelta(days=1),  # nothing before admission to settle
    )
    ctx.session.add(merchant)
    ctx.session.flush()
    return {"merchant": code, "fee_rate_bp": rate, "settlement_days": days}


def open_holds(ctx: Ctx, merchant: Merchant) -> int:
    """Pre-deductions still open at the merchant's terminals: their money reaches the merchant
    only when they settle (R10), so its account is not final before."""
    return ctx.session.scalar(
        select(func.count(Hold.id))
        .join(Terminal, Hold.terminal_id == Terminal.id)
        .where(Terminal.merchant_id == merchant.id, Hold.state == HoldState.PENDING)
    )


def close_merchant(ctx: Ctx, code: str) -> dict:
    """R24: a merchant settled to zero is closed with all its terminals."""
    merchant = find_merchant(ctx, code, lock=True)
    if merchant.state == OpenState.CLOSED:
        raise Conflict(reason_zh="商户已撤销", reason_en="the merchant is closed already")
    holds = open_holds(ctx, merchant)
    if holds:
        raise Conflict(
            reason_zh=f"商户终端尚有 {holds} 笔预扣未结算",
            reason_en=f"{holds} pre-deductions are open",
        )
    balance = ctx.session.get(LedgerAccount, merchant.account_id).balance
    if balance != 0:
        raise Conflict(
            reason_zh=f"商户结算账户尚有 {yuan(balance)} 元未结清，须先结算",
            reason_en=f"{yuan(balance)} yuan remain to be settled first",
        )
    merchant.state, merchant.closed_at = OpenState.CLOSED, ctx.now
    ctx.session.execute(
        update(Terminal).where(Terminal.merchant_id == merchant.id).values(state=OpenState.CLOSED)
    )
    return {"merchant": code, "state": merchant.state.value}


def register_terminal(
    ctx: Ctx, merchant_code: str, terminal_code: str, kind: TerminalKind, location: str
) -> dict:
    """R23: a terminal is registered at the approved place and works only there."""
    merchant = find_merchant(ctx, merchant_code)
    if merchant.state != OpenState.ACTIVE:
        raise NotAllowed(reason_zh="商户已撤销", reason_en="the merchant is closed")
    if ctx.session.scalar(select(Terminal.id).where(Terminal.code == terminal_code)):
        raise Conflict(
            reason_zh=f"终端 {terminal_code} 已登记", reason_en=f"{terminal_code} exists"
        )
    if not location:
        raise InvalidInput(reason_zh="终端须登记使用地点", reason_en="a terminal needs its place")
    terminal = Terminal(
        code=terminal_code,
        merchant=merchant,
        kind=TerminalKind(kind),
        location=location,
        state=OpenState.ACTIVE,
        registered_at=ctx.now,
    )
    ctx.session.add(terminal)
    ctx.session.flush()
    return {"terminal": terminal_code, "merchant": merchant_code, "location": location}


def _terminal(ctx: Ctx, terminal_code: str) -> Terminal:
    terminal = ctx.session.scalar(select(Terminal).where(Terminal.code == terminal_code))
    if terminal is None:
        raise NotFound(what_zh="终端", what_en="terminal", key=terminal_code)
    return terminal


def move_terminal(ctx: Ctx, terminal_code: str, location: str) -> dict:
    """R23: moving a terminal to an approved new place (the approval is the workflow's)."""
    terminal = _terminal(ctx, terminal_code)
    if terminal.state != OpenState.ACTIVE or not location:
        raise NotAllowed(reason_zh="终端已停用或地点为空", reason_en="terminal closed or no place")
    terminal.location = location
    return {"terminal": terminal_code, "location": location}


def disable_terminal(ctx: Ctx, terminal_code: str) -> dict:
    """Take a terminal out of use."""
    terminal = _terminal(ctx, terminal_code)
    terminal.state = OpenState.CLOSED
    return {"terminal": terminal_code, "state": terminal.state.value}

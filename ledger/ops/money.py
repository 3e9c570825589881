"""Money in and out of the purse: top-ups (R09), the transitional balance (R09) and
purchases with the daily limit and consumption password (R07, R08, R11, R17)."""

from collections import namedtuple
from datetime import datetime
from enum import StrEnum

from sqlalchemy import bindparam, select, true, update

from ledger.context import Ctx
from ledger.errors import (
    CardNotActive,
    InsufficientBalance,
    NotAllowed,
    NotFound,
    PasswordRequired,
)
from ledger.idempotency import CLAIM_STATUS, Claim, idempotent
from ledger.models.accounts import AccountKind, CardAccount, LedgerAccount, spent_on_day
from ledger.models.cards import STATE_ZH, Card, CardState
from ledger.models.journal import EntryKind
from ledger.models.merchants import (
    METERED_KINDS,
    REISSUE_DAY_BLOCKED,
    Merchant,
    Terminal,
    TerminalKind,
)
from ledger.ops.common import (
    TERMINAL_COLUMNS,
    active_terminal,
    check_amount,
    lock_card,
    require_active,
    require_password,
    yuan,
)
from ledger.posting import expire_loaded, next_entry_id, post_entry, system_account


class TopUpMethod(StrEnum):
    CASH = "cash"  # at the counter, in its hours
    BANK = "bank"  # 圈存 from the bound Bank of China debit card, at a kiosk
    WECHAT = "wechat"  # lands in the transitional balance


def counter_open(ctx: Ctx, at: datetime) -> bool:
    """R09: Monday to Friday, 8:00-11:30 and 14:00-17:00 campus time."""
    local = at.astimezone(ctx.config.zone)
    if local.weekday() >= 5:
        return False
    return any(start <= local.time() < end for start, end in ctx.config.counter_hours)


def _check_top_up(ctx: Ctx, card: Card, method: TopUpMethod) -> None:
    if card.state not in (CardState.ACTIVE, CardState.LOST):
        raise CardNotActive(card_no=card.card_no, state=card.state, state_zh=STATE_ZH[card.state])
    if method == TopUpMethod.CASH and not counter_open(ctx, ctx.now):
        raise NotAllowed(
            reason_zh="现金充值在周一至周五 8:00-11:30、14:00-17:00 办理",
            reason_en="cash top-ups are taken Monday to Friday, 8:00-11:30 and 14:00-17:00",
        )
    if method == TopUpMethod.BANK and not card.account.bank_card_no:
        raise NotAllowed(
            reason_zh="未绑定中国银行借记卡", reason_en="no Bank of China debit card is bound"
        )


_TOP_UP = {
    TopUpMethod.CASH: (AccountKind.CASH, EntryKind.TOPUP_CASH),
    TopUpMethod.BANK: (AccountKind.BANK, EntryKind.TOPUP_BANK),
    TopUpMethod.WECHAT: (AccountKind.WECHAT, EntryKind.TOPUP_WECHAT),
}


@idempotent("top_up")
def top_up(ctx: Ctx, card_no: str, amount: int, method: TopUpMethod) -> dict:
    """R09: deposit money; a WeChat top-up waits in the transitional balance."""
    method = TopUpMethod(method)
    check_amount(ctx, amount)
    card = lock_card(ctx, card_no)
    _check_top_up(ctx, card, method)
    source_kind, entry_kind = _TOP_UP[method]
    account = card.account
    target = account.transitional_id if method == TopUpMethod.WECHAT else account.purse_id
    source = system_account(ctx.session, source_kind)
    entry_id = post_entry(
        ctx, entry_kind, [(source, target, amount)], amount=amount, card_id=card.id
    )
    return {
        "card_no": card.card_no,
        "amount": amount,
        "balance": account.purse.balance,
        "transitional": account.transitional.balance,
        "entry_id": entry_id,
    }


@idempotent("claim_transitional")
def claim_transitional(ctx: Ctx, card_no: str, terminal_code: str) -> dict:
    """R09: the card shown at an idle POS (amount 0) takes its transitional balance."""
    card = lock_card(ctx, card_no)
    require_active(ctx, card)
    terminal = active_terminal(ctx, terminal_code)
    if terminal.kind != TerminalKind.POS:
        raise NotAllowed(reason_zh="过渡余额在 POS 机上领取", reason_en="claim at an idle POS")
    account = card.account
    amount = account.transitional.balance
    entry_id = None
    if amount:
        entry_id = post_entry(
            ctx,
            EntryKind.CLAIM_TRANSITIONAL,
            [(account.transitional_id, account.purse_id, amount)],
            amount=amount,
            card_id=card.id,
            terminal_id=terminal.id,
        )
    return {
        "card_no": card.card_no,
        "claimed": amount,
        "balance": account.purse.balance,
        "entry_id": entry_id,
    }


def refuse_on_reissue_day(ctx: Ctx, card, terminal) -> None:
    """R17: a reissued card is not accepted at the library, hospital or bus that day."""
    issued_day = card.issued_at.astimezone(ctx.config.zone).date()
    if card.replaces_id and terminal.category in REISSUE_DAY_BLOCKED and issued_day == ctx.today:
        raise NotAllowed(
            reason_zh="补办当天不能在图书馆、校医院、校车上使用，次日起方可使用",
            reason_en="a card reissued today works at the library, hospital and bus from tomorrow",
        )


def check_daily_limit(ctx: Ctx, account, amount: int, password: str | None) -> int:
    """R07: above the day's limit the consumption password is needed; returns the new total.

    `account` is a CardAccount or a row with its columns, read under the account's lock."""
    spent = spent_on_day(account, ctx.today) + amount
    if spent > account.daily_limit:
        if password is None:
            raise PasswordRequired()
        require_password(password, account.consume_password_hash)
    return spent


_cards, _card_accounts, _ledger = Card.__table__, CardAccount.__table__, LedgerAccount.__table__
_terminals, _merchants = Terminal.__table__, Merchant.__table__
_CARD_COLUMNS = (
    _cards.c.id,
    _cards.c.card_no,
    _cards.c.state,
    _cards.c.expires_on,
    _cards.c.replaces_id,
    _cards.c.issued_at,
    _card_accounts.c.id.label("account_id"),
    _card_accounts.c.daily_limit,
    _card_accounts.c.spent_on,
    _card_accounts.c.spent_today,
    _card_accounts.c.consume_password_hash,
    _card_accounts.c.purse_id,
    _ledger.c.balance,
)
_TerminalRow = namedtuple("_TerminalRow", [c.name for c in TERMINAL_COLUMNS])
_TERMINAL_PART = slice(len(_CARD_COLUMNS), len(_CARD_COLUMNS) + len(TERMINAL_COLUMNS))


def _purchase_view(dialect_name: str, claiming: bool):
    """Purchases are the hot path: one query reads what a purchase checks, locks the card's
    rows (not the terminal's: many cards pay at one terminal at once) and reserves the id of
    the journal entry, so that the result can ride with the entry's writes.

    `claiming` (PostgreSQL) also claims the idempotency key first, as its own statement would:
    the row then always comes, with `claimed`, and NULLs for an unknown card or terminal."""
    view = (
        select(
            *_CARD_COLUMNS,
            *(c.label(f"terminal_{c.name}") for c in TERMINAL_COLUMNS),
            next_entry_id(dialect_name).label("entry_id"),
        )
        .join(_card_accounts, _cards.c.card_account_id == _card_accounts.c.id)
        .join(_ledger, _card_accounts.c.purse_id == _ledger.c.id)
        .join(_terminals, _terminals.c.code == bindparam("terminal_code"))
        .join(_merchants, _terminals.c.merchant_id == _merchants.c.id)
        .where(_cards.c.card_no == bindparam("card_no"))
        .with_for_update(of=[_cards, _card_accounts, _ledger])
    )
    if not claiming:
        return view
    locked = view.subquery("purchase")
    return select(locked, CLAIM_STATUS.c.claimed).select_from(
        CLAIM_STATUS.outerjoin(locked, true())
    )


_PURCHASE_VIEWS = {
    ("postgresql", True): _purchase_view("postgresql", claiming=True),
    ("postgresql", False): _purchase_view("postgresql", claiming=False),
    ("sqlite", False): _purchase_view("sqlite", claiming=False),
}
_CARD_VIEW = (
    select(*_CARD_COLUMNS)
    .join(_card_accounts, _cards.c.card_account_id == _card_accounts.c.id)
    .join(_ledger, _card_accounts.c.purse_id == _ledger.c.id)
    .where(_cards.c.card_no == bindparam("card_no"))
)
_RECORD_SPENT = (
    update(_card_accounts)
    .where(_card_accounts.c.id == bindparam("card_account_id"))
    .values(spent_on=bindparam("day"), spent_today=bindparam("spent"))
)


def _read_for_purchase(ctx: Ctx, card_no: str, terminal_code: str, claim: Claim | None):
    """The purchase view's row, claiming a pending idempotency key on the way."""
    connection = ctx.session.connection()
    claiming = claim is not None and claim.pending
    params = {"card_no": card_no, "terminal_code": terminal_code}
    if claiming:
        params.update(claim.params())
    view = _PURCHASE_VIEWS[connection.dialect.name, claiming]
    return connection.execute(view, params).first()


def _card_and_terminal(ctx: Ctx, row, card_no: str, terminal_code: str):
    """The locked card and the terminal, checked as R04, R05, R23 and R24 ask; refusals come
    in the same order as if each were read on its own."""
    if row is None or row.id is None:  # an unknown card or terminal: find which
        card = ctx.session.connection().execute(_CARD_VIEW, {"card_no": card_no}).first()
        if card is None:
            raise NotFound(what_zh="卡片", what_en="card", key=card_no)
        require_active(ctx, card)
        active_terminal(ctx, terminal_code)
        raise NotFound(what_zh="终端", what_en="terminal", key=terminal_code)
    require_active(ctx, row)
    return row, active_terminal(ctx, terminal_code, _TerminalRow._make(row[_TERMINAL_PART]))


@idempotent("purchase", inline=True)
def purchase(
    ctx: Ctx,
    card_no: str,
    terminal_code: str,
    amount: int,
    *,
    consume_password: str | None = None,
    claim: Claim | None = None,
) -> dict:
    """R07, R08, R11: pay a merchant from the purse, never below zero."""
    row = _read_for_purchase(ctx, card_no, terminal_code, claim)
    if claim is not None and claim.pending and not row.claimed:
        return claim.replay(ctx)
    check_amount(ctx, amount)
    card, terminal = _card_and_terminal(ctx, row, card_no, terminal_code)
    if terminal.kind in METERED_KINDS:
        raise NotAllowed(reason_zh="水控终端按预扣计费", reason_en="metering terminals pre-deduct")
    refuse_on_reissue_day(ctx, card, terminal)
    spent = check_daily_limit(ctx, card, amount, consume_password)
    if card.balance < amount:
        raise InsufficientBalance(balance_yuan=yuan(card.balance), amount_yuan=yuan(amount))
    result = {
        "card_no": card.card_no,
        "amount": amount,
        "balance": card.balance - amount,
        "merchant": terminal.merchant_code,
        "entry_id": card.entry_id,
    }
    spent_today = {"card_account_id": card.account_id, "day": ctx.today, "spent": spent}
    riders = [(_RECORD_SPENT, spent_today)]
    if claim is not None:
        riders.append(claim.result_rider(result))
    post_entry(
        ctx,
        EntryKind.PURCHASE,
        [(card.purse_id, terminal.merchant_account_id, amount)],
        amount=amount,
        entry_id=card.entry_id,
        riders=riders,
        card_id=card.id,
        merchant_id=terminal.merchant_id,
        terminal_id=terminal.id,
    )
    expire_loaded(ctx.session, CardAccount, card.account_id, ["spent_on", "spent_today"])
    return result

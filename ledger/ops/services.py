"""Self-service settings and services: passwords (R06), daily limit (R07), bank card binding
(R09) and the students' network fee (R26)."""

from datetime import timedelta
from enum import StrEnum

from sqlalchemy import select

from ledger.context import Ctx
from ledger.errors import Conflict, InsufficientBalance, InvalidInput, NotAllowed
from ledger.idempotency import idempotent
from ledger.models.accounts import AccountKind
from ledger.models.cards import CardType, Channel
from ledger.models.journal import EntryKind
from ledger.models.money import NetworkFeeWeek
from ledger.models.people import NetworkStatus
from ledger.ops.common import lock_card, purse_balance, require_active, require_password, yuan
from ledger.passwords import check_password_format, hash_password, initial_password
from ledger.posting import post_entry, system_account


class PasswordKind(StrEnum):
    QUERY = "query"  # 查询密码
    CONSUME = "consume"  # 消费密码


_HASH_FIELD = {
    PasswordKind.QUERY: "query_password_hash",
    PasswordKind.CONSUME: "consume_password_hash",
}


def change_password(ctx: Ctx, card_no: str, which: PasswordKind, old: str, new: str) -> dict:
    """R06: the holder changes a password, proving the old one."""
    field = _HASH_FIELD[PasswordKind(which)]
    check_password_format(new)
    card = lock_card(ctx, card_no)
    require_active(ctx, card)
    require_password(old, getattr(card.account, field))
    setattr(card.account, field, hash_password(new, ctx.config.password_cost))
    return {"card_no": card.card_no, "changed": which}


def reset_password(ctx: Ctx, card_no: str, which: PasswordKind) -> dict:
    """R06: at the counter, card and ID checked, a forgotten password goes back to the
    last six digits of the ID number."""
    field = _HASH_FIELD[PasswordKind(which)]
    card = lock_card(ctx, card_no)
    initial = initial_password(card.person.id_number)
    setattr(card.account, field, hash_password(initial, ctx.config.password_cost))
    return {"card_no": card.card_no, "reset": which}


def change_daily_limit(
    ctx: Ctx, card_no: str, new_limit: int, *, channel: Channel, consume_password: str | None
) -> dict:
    """R07: only at a self-service kiosk, confirmed with the consumption password."""
    if channel != Channel.KIOSK:
        raise NotAllowed(
            reason_zh="消费限额仅限在圈存机修改", reason_en="the limit is changed at a kiosk only"
        )
    top = ctx.config.daily_limit_max
    if isinstance(new_limit, bool) or not isinstance(new_limit, int) or not 0 <= new_limit <= top:
        raise InvalidInput(
            reason_zh=f"当日消费限额须在 0 至 {yuan(top)} 元之间",
            reason_en=f"the daily limit is between 0 and {yuan(top)} yuan",
        )
    card = lock_card(ctx, card_no)
    require_active(ctx, card)
    require_password(consume_password, card.account.consume_password_hash)
    card.account.daily_limit = new_limit
    return {"card_no": card.card_no, "daily_limit": new_limit}


def luhn_valid(number: str) -> bool:
    """The Luhn check digit that bank card numbers carry."""
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def bind_bank_card(ctx: Ctx, card_no: str, bank_card_no: str, *, query_password: str) -> dict:
    """R09: bind the Bank of China debit card that kiosk transfers come from."""
    number = str(bank_card_no).replace(" ", "")
    if not (number.isdigit() and 16 <= len(number) <= 19 and luhn_valid(number)):
        raise InvalidInput(reason_zh="银行卡号无效", reason_en="invalid bank card number")
    card = lock_card(ctx, card_no)
    require_active(ctx, card)
    require_password(query_password, card.account.query_password_hash)
    card.account.bank_card_no = number
    return {"card_no": card.card_no, "bank_card": "*" * (len(number) - 4) + number[-4:]}


def _check_network_eligible(card, weeks: int, ctx: Ctx) -> None:
    if card.card_type != CardType.STUDENT:
        raise NotAllowed(
            reason_zh="仅学生可自助缴纳网费", reason_en="the network fee is for students"
        )
    status = card.person.network_status
    if status != NetworkStatus.ACTIVE:
        zh = "校园网账户已停用" if status == NetworkStatus.SUSPENDED else "尚未在网络管理系统注册"
        en = "network account suspended" if status == NetworkStatus.SUSPENDED else "not registered"
        raise NotAllowed(reason_zh=zh, reason_en=en)
    top = ctx.config.network_max_weeks
    if isinstance(weeks, bool) or not isinstance(weeks, int) or not 1 <= weeks <= top:
        raise InvalidInput(reason_zh=f"每次可缴 1 至 {top} 周", reason_en=f"pay 1 to {top} weeks")


@idempotent("pay_network_fee")
def pay_network_fee(ctx: Ctx, card_no: str, weeks: int, *, query_password: str) -> dict:
    """R26: pay 1-4 weeks from this week on; a week already paid is refused."""
    card = lock_card(ctx, card_no)
    require_active(ctx, card)
    require_password(query_password, card.account.query_password_hash)
    _check_network_eligible(card, weeks, ctx)
    monday = ctx.today - timedelta(days=ctx.today.weekday())
    week_starts = [monday + timedelta(weeks=i) for i in range(weeks)]
    paid = ctx.session.scalars(
        select(NetworkFeeWeek.week_start).where(
            NetworkFeeWeek.person_id == card.person_id, NetworkFeeWeek.week_start.in_(week_starts)
        )
    ).all()
    if paid:
        raise Conflict(
            reason_zh=f"{min(paid).isoformat()} 起的一周已缴费，不能重复缴费",
            reason_en=f"the week from {min(paid).isoformat()} is paid already",
        )
    amount = weeks * ctx.config.network_fee_per_week
    if purse_balance(card) < amount:
        raise InsufficientBalance(balance_yuan=yuan(purse_balance(card)), amount_yuan=yuan(amount))
    income = system_account(ctx.session, AccountKind.NETWORK_FEES)
    entry_id = post_entry(
        ctx,
        EntryKind.NETWORK_FEE,
        [(card.account.purse_id, income, amount)],
        amount=amount,
        card_id=card.id,
    )
    ctx.session.add_all(
        NetworkFeeWeek(person_id=card.person_id, week_start=w, entry_id=entry_id)
        for w in week_starts
    )
    return {
        "card_no": card.card_no,
        "amount": amount,
        "weeks": [w.isoformat() for w in week_starts],
        "entry_id": entry_id,
    }

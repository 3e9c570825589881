"""Issuing cards and moving them through their states: R01-R05, R13, R20, R22."""

import secrets
from collections.abc import Callable
from datetime import date, timedelta

from sqlalchemy import exists, select

from ledger.context import Ctx
from ledger.errors import InvalidInput, NotAllowed, NotFound, OneCardPerPerson
from ledger.idempotency import idempotent
from ledger.models.accounts import AccountKind, CardAccount
from ledger.models.cards import (
    LIVE_STATES,
    SELF_SERVICE,
    Card,
    CardEvent,
    CardState,
    CardType,
    Channel,
)
from ledger.models.journal import EntryKind
from ledger.models.people import Person, PersonCategory
from ledger.ops.common import (
    change_state,
    lock_card,
    record_event,
    refusal,
    require_password,
)
from ledger.passwords import hash_password, initial_password
from ledger.posting import new_account, post_entry, system_account

C = PersonCategory
CARD_TYPE_FOR: dict[PersonCategory, CardType] = {  # R01
    C.FACULTY: CardType.STAFF,
    C.POSTDOC: CardType.STAFF,
    C.RETIREE: CardType.STAFF,
    C.AGENCY_STAFF: CardType.STAFF,
    C.EXTERNAL_EXPERT: CardType.STAFF,
    C.EMPLOYEE: CardType.EMPLOYEE,
    C.UNDERGRADUATE: CardType.STUDENT,
    C.POSTGRADUATE: CardType.STUDENT,
    C.INTERNATIONAL_STUDENT: CardType.STUDENT,
    C.OTHER: CardType.TEMPORARY,
}


def one_year_after(day: date) -> date:
    """The same calendar day a year later (29 February gives 28 February)."""
    try:
        return day.replace(year=day.year + 1)
    except ValueError:
        return day.replace(year=day.year + 1, day=28)


def temporary_expiry(ctx: Ctx, requested: date | None) -> date:
    """R04: the end of the working period, never more than a year from today."""
    if not isinstance(requested, date) or requested < ctx.today:
        raise InvalidInput(
            reason_zh="临时卡须给出不早于今天的在校工作截止日期",
            reason_en="a temporary card needs a working-period end date no earlier than today",
        )
    return min(requested, one_year_after(ctx.today))


def live_card(ctx: Ctx, person_id: int) -> Card | None:
    """The person's card in a live state (active, lost or frozen), if any (R02)."""
    return ctx.session.scalar(
        select(Card).where(Card.person_id == person_id, Card.state.in_(LIVE_STATES))
    )


def refuse_second_card(ctx: Ctx, person: Person) -> None:
    """R02: one person, one usable card."""
    held = live_card(ctx, person.id)
    if held is not None:
        raise OneCardPerPerson(name=person.name, card_no=held.card_no)


def issue_fee(ctx: Ctx, person: Person, card_type: CardType) -> int:
    """R03: a temporary card costs 25 yuan; other types are free the first time (decided: a
    person who held a card of the same type before pays the reissue fee)."""
    if card_type == CardType.TEMPORARY:
        return ctx.config.temporary_card_fee
    held_before = ctx.session.scalar(
        select(exists().where(Card.person_id == person.id, Card.card_type == card_type))
    )
    return ctx.config.reissue_fee if held_before else 0


def fee_or_default(ctx: Ctx, fee: int | None, default: Callable[[], int]) -> int:
    """A fee decided elsewhere (the office's fee table, R03), checked, or `default()`."""
    if fee is None:
        return default()
    if isinstance(fee, bool) or not isinstance(fee, int) or not 0 <= fee <= ctx.config.max_amount:
        raise InvalidInput(reason_zh=f"工本费 {fee} 无效", reason_en=f"invalid card fee {fee}")
    return fee


def _card_no_taken(ctx: Ctx, card_no: str) -> bool:
    return ctx.session.scalar(select(Card.id).where(Card.card_no == card_no)) is not None


def card_number(ctx: Ctx, given: str | None) -> str:
    """The number of the blank card handed out, or a fresh ten-digit one."""
    if given is not None:
        if not (given.isdigit() and 6 <= len(given) <= 20) or _card_no_taken(ctx, given):
            raise InvalidInput(
                reason_zh=f"卡号 {given} 无效或已被使用",
                reason_en=f"card number {given} is invalid or taken",
            )
        return given
    while True:
        card_no = f"{secrets.randbelow(9 * 10**9) + 10**9}"
        if not _card_no_taken(ctx, card_no):
            return card_no


def open_card_account(ctx: Ctx, person: Person) -> CardAccount:
    """The person's account, reopened if they had one, else new with R06's passwords."""
    account = ctx.session.scalar(
        select(CardAccount).where(CardAccount.person_id == person.id).with_for_update()
    )
    if account is not None:
        account.closed_at = None
        return account
    password, cost = initial_password(person.id_number), ctx.config.password_cost
    account = CardAccount(
        person=person,
        purse=new_account(ctx.session, AccountKind.PURSE),
        transitional=new_account(ctx.session, AccountKind.TRANSITIONAL),
        daily_limit=ctx.config.daily_limit,
        spent_today=0,
        query_password_hash=hash_password(password, cost),
        consume_password_hash=hash_password(password, cost),
        opened_at=ctx.now,
    )
    ctx.session.add(account)
    return account


@idempotent("issue_card")
def issue_card(
    ctx: Ctx,
    person_id: int,
    *,
    card_no: str | None = None,
    valid_until: date | None = None,
    applying_department_id: int | None = None,
    fee: int | None = None,
) -> dict:
    """Issue a person's card at the counter (R01-R04), the fee paid in cash.

    `applying_department_id`, for a card requested by a department, must be the person's
    own department (R20). A temporary card needs `valid_until`, the end of the working period.
    `fee` is the fee table's amount (R03) when a process decided it; else `issue_fee`'s.
    """
    # The person's row is the lock two counters issuing at once queue on (R02).
    person = ctx.session.scalar(
        select(Person)
        .where(Person.id == person_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if person is None:
        raise NotFound(what_zh="人员", what_en="person", key=person_id)
    if applying_department_id is not None and person.department_id != applying_department_id:
        raise NotAllowed(
            reason_zh="申请单位只能为本单位人员办卡",
            reason_en="a department applies only for its own people",
        )
    card_type = CARD_TYPE_FOR[person.category]
    expires_on = temporary_expiry(ctx, valid_until) if card_type == CardType.TEMPORARY else None
    refuse_second_card(ctx, person)
    number = card_number(ctx, card_no)
    account = open_card_account(ctx, person)
    fee = fee_or_default(ctx, fee, lambda: issue_fee(ctx, person, card_type))
    card = Card(
        card_no=number,
        person=person,
        account=account,
        card_type=card_type,
        state=CardState.ACTIVE,
        issued_at=ctx.now,
        expires_on=expires_on,
    )
    ctx.session.add(card)
    ctx.session.flush()
    record_event(ctx, card, "issued", Channel.COUNTER, {"fee": fee})
    entry_id = charge_card_fee(ctx, card, fee, paid_from_balance=False)
    return {
        "card_no": card.card_no,
        "card_type": card_type.value,
        "expires_on": expires_on.isoformat() if expires_on else None,
        "fee": fee,
        "entry_id": entry_id,
    }


def charge_card_fee(ctx: Ctx, card: Card, fee: int, *, paid_from_balance: bool) -> int | None:
    """Post a card fee (工本费) paid in cash or from the card's own balance."""
    if fee == 0:
        return None
    source = (
        card.account.purse_id
        if paid_from_balance
        else system_account(ctx.session, AccountKind.CASH)
    )
    income = system_account(ctx.session, AccountKind.CARD_FEES)
    return post_entry(ctx, EntryKind.CARD_FEE, [(source, income, fee)], amount=fee, card_id=card.id)


def extend_card(ctx: Ctx, card_no: str, until: date) -> dict:
    """R22: extend a temporary card; the new expiry is at most a year from today (R04)."""
    card = lock_card(ctx, card_no)
    if card.card_type != CardType.TEMPORARY:
        raise NotAllowed(
            reason_zh="只有临时卡可以延期", reason_en="only temporary cards are extended"
        )
    new_expiry = temporary_expiry(ctx, until)
    if new_expiry <= card.expires_on:
        raise InvalidInput(
            reason_zh="延期后的有效期须晚于当前有效期",
            reason_en="the new expiry must be later than the current one",
        )
    details = {"from": card.expires_on.isoformat(), "to": new_expiry.isoformat()}
    if card.state == CardState.EXPIRED:
        refuse_second_card(ctx, card.person)
        change_state(ctx, card, CardState.ACTIVE, "extended", Channel.SYSTEM, details)
    elif card.state not in LIVE_STATES:
        raise refusal(card, CardState.ACTIVE)
    else:
        record_event(ctx, card, "extended", Channel.SYSTEM, details)
    card.expires_on = new_expiry
    return {"card_no": card.card_no, "expires_on": new_expiry.isoformat()}


def expire_cards(ctx: Ctx) -> list[str]:
    """R04: move temporary cards past their expiry to `expired`; returns their numbers."""
    cards = ctx.session.scalars(
        select(Card)
        .where(
            Card.card_type == CardType.TEMPORARY,
            Card.state.in_((CardState.ACTIVE, CardState.LOST)),
            Card.expires_on < ctx.today,
        )
        .order_by(Card.id)
        .with_for_update(skip_locked=True)
    ).all()
    for card in cards:
        change_state(ctx, card, CardState.EXPIRED, "expired", Channel.SYSTEM)
    return [card.card_no for card in cards]


EXPIRY_REMINDER = "expiry reminder"


def cards_to_remind(ctx: Ctx, within_days: int) -> list[Card]:
    """R22: live temporary cards expiring within `within_days` whose department has not yet
    been reminded of this expiry (an extension moves the expiry: a new reminder is due)."""
    horizon = ctx.today + timedelta(days=within_days)
    cards = ctx.session.scalars(
        select(Card)
        .where(
            Card.card_type == CardType.TEMPORARY,
            Card.state.in_(LIVE_STATES),
            Card.expires_on.between(ctx.today, horizon),
        )
        .order_by(Card.id)
        .with_for_update(skip_locked=True)  # two runs at once remind of each card once
    ).all()
    reminders = ctx.session.scalars(
        select(CardEvent).where(
            CardEvent.card_id.in_([card.id for card in cards]),
            CardEvent.reason == EXPIRY_REMINDER,
        )
    )
    done = {(event.card_id, (event.details or {}).get("expires_on")) for event in reminders}
    return [card for card in cards if (card.id, card.expires_on.isoformat()) not in done]


def record_expiry_reminder(ctx: Ctx, card: Card) -> None:
    """Note on the card's history that its department was reminded of this expiry."""
    details = {"expires_on": card.expires_on.isoformat()}
    record_event(ctx, card, EXPIRY_REMINDER, Channel.SYSTEM, details)


def _check_loss_channel(card: Card, channel: Channel, query_password: str | None) -> None:
    """R13: loss and unfreeze at the counter or by the holder through a self-service channel,
    which needs the query password (R06)."""
    if channel != Channel.COUNTER and channel not in SELF_SERVICE:
        raise NotAllowed(
            reason_zh="挂失、解挂请到柜台或通过圈存机、校园卡网站、电话、微信企业号办理",
            reason_en="loss and unfreeze go through the counter or a self-service channel",
        )
    if channel in SELF_SERVICE:
        require_password(query_password, card.account.query_password_hash)


def report_loss(
    ctx: Ctx, card_no: str, channel: Channel, *, query_password: str | None = None
) -> dict:
    """R13: the card stops working at once. Self-service channels need the query password."""
    card = lock_card(ctx, card_no)
    _check_loss_channel(card, channel, query_password)
    change_state(ctx, card, CardState.LOST, "reported lost", channel)
    return {"card_no": card.card_no, "state": card.state.value}


def unfreeze_card(
    ctx: Ctx, card_no: str, channel: Channel, *, query_password: str | None = None
) -> dict:
    """R13: a found card is unfrozen (解挂); a card voided by a reissue never is (R15)."""
    card = lock_card(ctx, card_no)
    _check_loss_channel(card, channel, query_password)
    if card.state != CardState.LOST:
        raise refusal(card, CardState.ACTIVE)
    change_state(ctx, card, CardState.ACTIVE, "found and unfrozen", channel)
    return {"card_no": card.card_no, "state": card.state.value}


def freeze_card(ctx: Ctx, card_no: str, reason: str) -> dict:
    """R05, R19: the card office freezes a card, e.g. for use by someone not its holder."""
    card = lock_card(ctx, card_no)
    change_state(ctx, card, CardState.FROZEN, reason, Channel.COUNTER)
    return {"card_no": card.card_no, "state": card.state.value}


def lift_freeze(ctx: Ctx, card_no: str, reason: str) -> dict:
    """The card office lifts a freeze it imposed."""
    card = lock_card(ctx, card_no)
    if card.state != CardState.FROZEN:
        raise refusal(card, CardState.ACTIVE)
    change_state(ctx, card, CardState.ACTIVE, reason, Channel.COUNTER)
    return {"card_no": card.card_no, "state": card.state.value}

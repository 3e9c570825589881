"""What the operations share: finding and locking cards, checking amounts, state changes."""

from sqlalchemy import bindparam, select
from sqlalchemy.orm import contains_eager

from ledger.context import Ctx
from ledger.errors import (
    CardExpired,
    CardNotActive,
    InvalidAmount,
    InvalidInput,
    NotAllowed,
    NotFound,
    TransitionNotAllowed,
    WrongPassword,
)
from ledger.models.accounts import CardAccount
from ledger.models.cards import STATE_ZH, Card, CardEvent, CardState, EvidenceKind
from ledger.models.merchants import Merchant, OpenState, Terminal
from ledger.models.people import IdType
from ledger.passwords import verify_password

S = CardState
# R05: the changes of state a card may go through; the final states lead nowhere.
TRANSITIONS: dict[CardState, frozenset[CardState]] = {
    S.ACTIVE: frozenset({S.LOST, S.FROZEN, S.EXPIRED, S.REPLACED, S.CANCELLED, S.TERMINATED}),
    S.LOST: frozenset({S.ACTIVE, S.EXPIRED, S.REPLACED, S.CANCELLED, S.TERMINATED}),
    S.FROZEN: frozenset({S.ACTIVE, S.CANCELLED, S.TERMINATED}),
    S.EXPIRED: frozenset({S.ACTIVE, S.CANCELLED, S.TERMINATED}),
    S.REPLACED: frozenset(),
    S.CANCELLED: frozenset(),
    S.TERMINATED: frozenset(),
}


def yuan(fen: int) -> str:
    """Fen as a yuan string for messages: 2500 -> '25.00'."""
    return f"{fen / 100:.2f}"


def check_amount(ctx: Ctx, amount: int) -> int:
    """A positive whole number of fen no larger than the configured maximum."""
    limit = ctx.config.max_amount
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= limit:
        raise InvalidAmount(max_yuan=yuan(limit))
    return amount


def lock_card(ctx: Ctx, card_no: str) -> Card:
    """Load a card with its account and purse, locking the rows until commit.

    Every change to a cardholder's money goes through this lock (PostgreSQL FOR UPDATE;
    SQLite holds its write lock from BEGIN IMMEDIATE), so checks made after it hold.
    """
    card = ctx.session.scalar(
        select(Card)
        .join(Card.account)
        .join(CardAccount.purse)
        .where(Card.card_no == card_no)
        .options(contains_eager(Card.account).contains_eager(CardAccount.purse))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if card is None:
        raise NotFound(what_zh="卡片", what_en="card", key=card_no)
    return card


def require_active(ctx: Ctx, card: Card) -> None:
    """Only active, unexpired cards can pay (R05, R04)."""
    if card.state != CardState.ACTIVE:
        raise CardNotActive(card_no=card.card_no, state=card.state, state_zh=STATE_ZH[card.state])
    if card.expires_on is not None and ctx.today > card.expires_on:
        raise CardExpired(card_no=card.card_no, expires_on=card.expires_on.isoformat())


def require_password(password: str | None, stored_hash: str) -> None:
    """Refuse a missing or wrong password."""
    if not verify_password(password, stored_hash):
        raise WrongPassword()


def refusal(card: Card, to_state: CardState) -> TransitionNotAllowed:
    """The error for a change of state that R05 does not allow from the card's state."""
    return TransitionNotAllowed(
        card_no=card.card_no,
        from_state=card.state,
        to_state=to_state,
        from_zh=STATE_ZH[card.state],
        to_zh=STATE_ZH[to_state],
    )


def change_state(
    ctx: Ctx, card: Card, to_state: CardState, reason: str, channel: str, details=None
) -> CardEvent:
    """Move a card to `to_state` if R05 allows it, recording who, when, why and how."""
    if to_state not in TRANSITIONS[card.state]:
        raise refusal(card, to_state)
    event = CardEvent(
        card_id=card.id,
        at=ctx.now,
        actor=ctx.actor,
        channel=channel,
        from_state=card.state,
        to_state=to_state,
        reason=reason,
        details=details,
    )
    card.state = to_state
    ctx.session.add(event)
    return event


def record_event(ctx: Ctx, card: Card, reason: str, channel: str, details=None) -> CardEvent:
    """Record something that happened to a card without a change of state (issue, extend)."""
    event = CardEvent(
        card_id=card.id,
        at=ctx.now,
        actor=ctx.actor,
        channel=channel,
        from_state=None,
        to_state=card.state,
        reason=reason,
        details=details,
    )
    ctx.session.add(event)
    return event


def purse_balance(card: Card) -> int:
    """The balance of the card's purse as loaded under the lock."""
    return card.account.purse.balance


def delegation_fields(holder_id_number: str, delegate: dict) -> dict:
    """R16: the delegate's identity and the evidence they bring, checked."""
    name = str(delegate.get("name") or "").strip()
    number = str(delegate.get("id_number") or "").strip().upper()
    try:
        id_type = IdType(delegate.get("id_type", IdType.RESIDENT_ID))
        evidence = EvidenceKind(delegate.get("evidence"))
    except ValueError:
        id_type = evidence = None
    if not name or not number or id_type is None or number == holder_id_number.upper():
        raise InvalidInput(
            reason_zh="代办须登记代办人姓名、证件及委托凭证（持卡人证件或委托证明）",
            reason_en="a delegate's name, own ID and evidence (holder's ID or written delegation)"
            " are required",
        )
    return dict(
        delegate_name=name,
        delegate_id_type=id_type,
        delegate_id_number=number,
        evidence=evidence,
        evidence_ref=delegate.get("evidence_ref"),
    )


_terminals, _merchants = Terminal.__table__, Merchant.__table__
# What an operation reads of a terminal and its merchant (purchase reads them with the card).
TERMINAL_COLUMNS = (
    _terminals.c.id,
    _terminals.c.kind,
    _terminals.c.state,
    _terminals.c.merchant_id,
    _merchants.c.code.label("merchant_code"),
    _merchants.c.state.label("merchant_state"),
    _merchants.c.category,
    _merchants.c.account_id.label("merchant_account_id"),
)
_TERMINAL_VIEW = (
    select(*TERMINAL_COLUMNS)
    .join(_merchants, _terminals.c.merchant_id == _merchants.c.id)
    .where(_terminals.c.code == bindparam("code"))
)


def active_terminal(ctx: Ctx, terminal_code: str, found=None):
    """A registered, working terminal of an admitted merchant (R23, R24), as a row with
    its merchant's code, category and account id.

    `found` is that row when the caller has read it already (purchase reads it with the card,
    to save a round trip); the checks here need its state and merchant_state."""
    terminal = found
    if terminal is None:
        connection = ctx.session.connection()
        terminal = connection.execute(_TERMINAL_VIEW, {"code": terminal_code}).first()
    if terminal is None:
        raise NotFound(what_zh="终端", what_en="terminal", key=terminal_code)
    if terminal.state != OpenState.ACTIVE or terminal.merchant_state != OpenState.ACTIVE:
        raise NotAllowed(
            reason_zh=f"终端 {terminal_code} 已停用",
            reason_en=f"terminal {terminal_code} is disabled",
        )
    return terminal

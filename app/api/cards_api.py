"""The API's card endpoints for people: finding cardholders, a card's state and balances,
loss and unfreeze at the counter (R13), a holder's statement (the card office) and the
top-up notifications of the bank and WeChat systems (the settlement centre, R09).

Administrators may call every endpoint; anyone else without the role gets 403."""

from flask.views import MethodView
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.api.auth import allowed, api_ctx, api_env, api_user
from app.api.blueprints import api_blueprint
from app.api.card_schemas import (
    CardFactsSchema,
    CardholderArgs,
    CardholderSchema,
    CardStateChangeSchema,
    CardStatementSchema,
    StatementArgs,
    TopUpResultSchema,
    TopUpSchema,
)
from app.api.idempotency import PARAMETER, idempotency_key
from app.i18n import pick
from app.uow import unit_of_work
from ledger.context import Ctx
from ledger.errors import DomainError, IdempotencyConflict, NotFound
from ledger.idempotency import idempotent
from ledger.models.accounts import spent_on_day
from ledger.models.cards import Card, Channel
from ledger.models.journal import EntryKind
from ledger.models.merchants import Terminal
from ledger.models.people import mask_id_number
from ledger.ops.cards import report_loss, unfreeze_card
from ledger.ops.metering import open_hold
from ledger.ops.money import TopUpMethod, top_up
from ledger.queries import Cardholder, find_cardholders
from reports.statement import InvalidPeriod, cardholder_statement, statement_period
from workflows.identity import Role, User

blp = api_blueprint("cards", "Cards and cardholders (card office, settlement centre)")


def shown_id_number(user: User, number: str) -> str:
    """An ID number as `user` may see it: whole for the card office and administrators (as
    on the counter's pages), else masked."""
    if user.has_role(Role.CARD_OFFICE) or user.has_role(Role.ADMIN):
        return number
    return mask_id_number(number)


def card_of(session: Session, card_no: str) -> Card:
    """The card numbered `card_no`; NotFound (404) if there is none."""
    card = session.scalar(select(Card).where(Card.card_no == card_no))
    if card is None:
        raise NotFound(what_zh="卡片", what_en="card", key=card_no)
    return card


@blp.route("/cardholders")
class Cardholders(MethodView):
    @allowed(Role.CARD_OFFICE)
    @blp.arguments(CardholderArgs, location="query")
    @blp.response(200, CardholderSchema(many=True))
    def get(self, args):
        """Cardholders by name, the start of a card number or the end of the ID number, by
        name, each with every card they held (the counter's search)."""
        found = find_cardholders(api_env().session, args["q"], args["limit"])
        return [_cardholder(holder, api_user()) for holder in found]


def _cardholder(holder: Cardholder, user: User) -> dict:
    person = holder.person
    return {
        "person_id": person.id, "name": person.name, "id_type": person.id_type,
        "id_number": shown_id_number(user, person.id_number), "category": person.category,
        "department": pick(person.department, "name"), "cards": holder.cards,
    }  # fmt: skip


@blp.route("/cards/<card_no>")
class CardFacts(MethodView):
    @allowed(Role.CARD_OFFICE, Role.SETTLEMENT)
    @blp.response(200, CardFactsSchema)
    def get(self, card_no: str):
        """A card: its state, holder and balances, its account's daily limit and what was
        spent today, the bound bank card (masked) and the open pre-deduction (R10)."""
        ctx = api_ctx()
        card = card_of(ctx.session, card_no)
        return _card_facts(ctx, card)


def _card_facts(ctx: Ctx, card: Card) -> dict:
    account = card.account
    hold = open_hold(ctx, account)
    bank_card = account.bank_card_no
    return {
        "card_no": card.card_no, "card_type": card.card_type, "state": card.state,
        "issued_at": card.issued_at, "expires_on": card.expires_on,
        "person_id": card.person_id, "holder_name": card.person.name,
        "balance": account.purse.balance, "transitional": account.transitional.balance,
        "daily_limit": account.daily_limit, "spent_today": spent_on_day(account, ctx.today),
        "bank_card": mask_id_number(bank_card) if bank_card else None,
        "hold": hold and {
            "amount": hold.amount, "opened_at": hold.opened_at,
            "terminal": ctx.session.get(Terminal, hold.terminal_id).code,
        },
    }  # fmt: skip


@blp.route("/cards/<card_no>/loss")
class Loss(MethodView):
    @allowed(Role.CARD_OFFICE)
    @blp.response(200, CardStateChangeSchema)
    def post(self, card_no: str):
        """R13: report the card lost at the counter (the clerk has seen the holder's ID); it
        stops working at once. 409 if it is not active."""
        with unit_of_work():
            return report_loss(api_ctx(), card_no, Channel.COUNTER)


@blp.route("/cards/<card_no>/unfreeze")
class Unfreeze(MethodView):
    @allowed(Role.CARD_OFFICE)
    @blp.response(200, CardStateChangeSchema)
    def post(self, card_no: str):
        """R13: unfreeze (解挂) a lost card that was found, at the counter. 409 for a card
        that is not lost; a card voided by a reissue is never unfrozen (R15)."""
        with unit_of_work():
            return unfreeze_card(api_ctx(), card_no, Channel.COUNTER)


class StatementPeriodInvalid(InvalidPeriod):
    """A range no statement covers. The printed statement's page answers it with 400; the
    API answers bad input with 422, as everywhere else."""

    status = 422


@blp.route("/cards/<card_no>/statement")
class Statement(MethodView):
    @allowed(Role.CARD_OFFICE)
    @blp.arguments(StatementArgs, location="query")
    @blp.response(200, CardStatementSchema)
    def get(self, args, card_no: str):
        """The holder's statement (校园卡对账单) over the campus days `from` to `to` (the last
        30 days by default, 366 at most): the opening balances, every entry with the balances
        after it, the totals and the closing balances; purse and transitional apart."""
        env = api_env()
        card = card_of(env.session, card_no)
        try:
            days = statement_period(args["first"], args["last"], env.today)
        except InvalidPeriod as error:
            raise StatementPeriodInvalid(**error.params) from None
        # Each line keeps its EntryKind: the schema dumps the code and its label.
        zone = env.config.ledger.zone
        return cardholder_statement(env.session, card.person, days, zone, kind_label=EntryKind)


class ReferenceUsed(DomainError):
    """A payer's transaction id already credited with another card, amount or method."""

    status = 422
    code = "reference_used"
    zh = "付款流水号 {reference} 已用于另一笔充值"
    en = "The payer's reference {reference} was already used for another top-up"


def _credit(ctx: Ctx, card_no: str, amount: int, method: str, reference: str) -> dict:
    """R09: credit the top-up the payer's system notifies, with its reference."""
    result = top_up(ctx, card_no, amount, TopUpMethod(method))
    return result | {"method": method, "reference": reference}


#: One credit per payer's transaction: the payer's reference is a ledger idempotency key of
#: its own, so a notice sent again under a new Idempotency-Key answers the first credit.
credit_once = idempotent("top_up_reference")(_credit)


def _notified_top_up(ctx: Ctx, card_no: str, amount: int, method: str, reference: str) -> dict:
    try:
        return credit_once(
            ctx, card_no, amount, method, reference,
            idempotency_key=f"payer:{method}:{reference}",
        )  # fmt: skip
    except IdempotencyConflict:
        raise ReferenceUsed(reference=reference) from None


#: The ledger's idempotency keys cover the whole notice, the payer's reference too: the same
#: key with another reference is a different request (422), not a replay.
notified_top_up = idempotent("top_up_notice")(_notified_top_up)


@blp.route("/top-ups")
class TopUps(MethodView):
    @allowed(Role.SETTLEMENT)
    @blp.doc(parameters=[PARAMETER])
    @blp.arguments(TopUpSchema)
    @blp.response(201, TopUpResultSchema)
    def post(self, notice):
        """R09: a top-up notified by the bank (圈存, to the purse) or WeChat (to the
        transitional balance, claimed at a POS later). A retry with the same Idempotency-Key
        answers the first result and moves nothing again; so does the same notice (method
        and reference) under another key, and a reference used for another top-up is 422."""
        key = idempotency_key()
        with unit_of_work():
            return notified_top_up(api_ctx(), **notice, idempotency_key=key)

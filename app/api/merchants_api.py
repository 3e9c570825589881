"""The API's merchant endpoints for people: merchants, their settlements and a settlement's
statement (the settlement centre and the card office read them), and the weekly settlement
run (the settlement centre, R11). Administrators may call every endpoint."""

from flask.views import MethodView
from sqlalchemy.orm import Session

from app.api.auth import allowed, api_ctx, api_env
from app.api.blueprints import api_blueprint
from app.api.card_schemas import (
    MerchantArgs,
    MerchantSchema,
    SettlementListArgs,
    SettlementRunSchema,
    SettlementSchema,
    SettlementStatementSchema,
)
from app.api.idempotency import PARAMETER, idempotency_key
from app.display import actor_name
from app.merchants.access import READERS, WRITERS
from app.merchants.queries import MerchantFilter, adjustments_of, merchants, settlements_of
from app.paging import campus_span
from app.uow import unit_of_work
from ledger.context import Ctx
from ledger.errors import NotFound
from ledger.idempotency import idempotent
from ledger.models.journal import JournalEntry
from ledger.models.merchants import Settlement
from ledger.ops.merchants import find_merchant
from ledger.ops.settlement import run_settlement
from reports.settlement import AdjustmentLine, settlement_statement

blp = api_blueprint("merchants", "Merchants: settlement runs and statements")


@blp.route("/merchants")
class Merchants(MethodView):
    @allowed(*READERS)
    @blp.arguments(MerchantArgs, location="query")
    @blp.response(200, MerchantSchema(many=True))
    def get(self, args):
        """Merchants by code, narrowed by part of the code or name, category and state."""
        return merchants(api_env().session, MerchantFilter(**args))


@blp.route("/merchants/<code>/settlements")
class MerchantSettlements(MethodView):
    @allowed(*READERS)
    @blp.arguments(SettlementListArgs, location="query")
    @blp.response(200, SettlementSchema(many=True))
    def get(self, args, code: str):
        """The merchant's settlements, latest period first; 404 for an unknown merchant."""
        ctx = api_ctx()
        merchant = find_merchant(ctx, code)
        return settlements_of(ctx.session, merchant.id, args["limit"])


@blp.route("/settlements/<int:settlement_id>")
class SettlementStatement(MethodView):
    @allowed(*READERS)
    @blp.response(200, SettlementStatementSchema)
    def get(self, settlement_id: int):
        """A settlement's statement (商户结算单, R11): the period, the number of purchases,
        turnover, the adjustments made in it with who made them and why, the fee and the
        payout, as printed."""
        env = api_env()
        settlement = env.session.get(Settlement, settlement_id)
        if settlement is None:
            raise NotFound(what_zh="结算单", what_en="statement", key=settlement_id)
        zone = env.config.ledger.zone
        span = campus_span(settlement.period_start, settlement.period_end, zone)
        made = adjustments_of(env.session, settlement.merchant_id, span)
        lines = [_adjustment_line(env.session, entry) for entry in made]
        return {"id": settlement.id} | settlement_statement(env.session, settlement, span, lines)


def _adjustment_line(session: Session, entry: JournalEntry) -> AdjustmentLine:
    """An adjustment as the statement lists it, who made it by name (caller's language)."""
    card_no = entry.card.card_no if entry.card else ""
    who = actor_name(session, entry.actor)
    return AdjustmentLine(
        entry.id, entry.at, entry.corrects_id, card_no, entry.amount, entry.memo or "", who
    )


def _settle_due(ctx: Ctx) -> dict:
    """R11: settle every merchant whose period has run; the statements as one dict, which
    the ledger's idempotency keys store and replay."""
    return {"settlements": run_settlement(ctx)}


#: The settlement run under an Idempotency-Key: the ledger's key table replays a retry.
settle_due = idempotent("run_settlement")(_settle_due)


@blp.route("/settlement-runs")
class SettlementRuns(MethodView):
    @allowed(*WRITERS)
    @blp.doc(parameters=[PARAMETER])
    @blp.response(201, SettlementRunSchema)
    def post(self):
        """R11: run the settlement now: every open merchant whose period (weekly unless
        agreed otherwise) has run is settled through yesterday. A retry with the same
        Idempotency-Key answers the first run's statements and settles nothing again."""
        key = idempotency_key()
        with unit_of_work():
            return settle_due(api_ctx(), idempotency_key=key)

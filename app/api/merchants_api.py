"""The API's merchant endpoints for people: merchants, their settlements and a settlement's
statement (the settlement centre and the card office read them), and the weekly settlement
run (the settlement centre, R11). Administrators may call every endpoint."""

from flask.views import MethodView

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
from app.merchants.access import READERS, WRITERS
from app.merchants.queries import MerchantFilter, merchants, settlements_of
from app.merchants.settlements import statement_data, statement_facts
from app.uow import unit_of_work
from ledger.context import Ctx
from ledger.idempotency import idempotent
from ledger.ops.merchants import find_merchant
from ledger.ops.settlement import run_settlement

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
        found = statement_facts(env, settlement_id)
        return {"id": settlement_id} | statement_data(env, found)


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

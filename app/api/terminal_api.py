"""POS terminals and metering controllers (R09, R10, R11, R23): purchases, pre-deductions and
their settlement, and the claim of a WeChat top-up's transitional balance at an idle POS.

Each call moves money, so each needs an Idempotency-Key: a terminal that retries after a lost
answer gets the first answer again and the card is charged once."""

from flask.views import MethodView

from app.api.auth import api_ctx, api_device
from app.api.blueprints import DEVICE_SECURITY, api_blueprint
from app.api.device_schemas import (
    DeviceCardArgs,
    HoldSettledSchema,
    PreDeductedSchema,
    PurchasedSchema,
    TerminalPreDeductArgs,
    TerminalPurchaseArgs,
    TerminalSettleArgs,
    TransitionalClaimedSchema,
)
from app.api.idempotency import PARAMETER, idempotency_key
from app.uow import unit_of_work
from ledger.ops.metering import pre_deduct, settle_hold
from ledger.ops.money import claim_transitional, purchase

blp = api_blueprint("terminal", "POS terminals and metering controllers", "terminals")
MONEY = {"security": DEVICE_SECURITY, "parameters": [PARAMETER]}


def at_this_terminal(operation, card_no: str, *args, **kwargs) -> dict:
    """Run a ledger operation for this terminal in one unit of work, under the call's key."""
    with unit_of_work():
        ctx, key = api_ctx(), idempotency_key()
        return operation(ctx, card_no, api_device().code, *args, idempotency_key=key, **kwargs)


@blp.route("/terminal/purchases")
class Purchases(MethodView):
    @blp.doc(**MONEY)
    @blp.arguments(TerminalPurchaseArgs)
    @blp.response(201, PurchasedSchema)
    def post(self, args):
        """A purchase (R07, R08, R11): above the day's limit the consumption password."""
        password = args["consume_password"]
        return at_this_terminal(
            purchase, args["card_no"], args["amount"], consume_password=password
        )


@blp.route("/terminal/pre-deductions")
class PreDeductions(MethodView):
    @blp.doc(**MONEY)
    @blp.arguments(TerminalPreDeductArgs)
    @blp.response(201, PreDeductedSchema)
    def post(self, args):
        """First tap at a water or shower controller: hold `amount` (R10); an open hold at
        another controller is settled at its full amount."""
        return at_this_terminal(pre_deduct, args["card_no"], args["amount"])


@blp.route("/terminal/pre-deductions/settle")
class Settle(MethodView):
    @blp.doc(**MONEY)
    @blp.arguments(TerminalSettleArgs)
    @blp.response(200, HoldSettledSchema)
    def post(self, args):
        """Second tap at the same controller: charge `used`, return the rest (R10)."""
        return at_this_terminal(settle_hold, args["card_no"], args["used"])


@blp.route("/terminal/transitional-claims")
class TransitionalClaims(MethodView):
    @blp.doc(**MONEY)
    @blp.arguments(DeviceCardArgs)
    @blp.response(200, TransitionalClaimedSchema)
    def post(self, args):
        """The card shown at an idle POS takes its WeChat top-ups (R09)."""
        return at_this_terminal(claim_transitional, args["card_no"])

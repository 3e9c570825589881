"""Self-service kiosks (R27): 圈存查询一体机 answer look-ups, take losses and unfreezes (R13),
bank transfers (圈存, R09), daily limits (R07), password changes (R06) and the network fee
(R26); self-service reissue kiosks (自助补卡机) reissue students' cards (R15).

The holder proves themself with the query password, or the consumption password where the
rules ask for it; the kiosk reissue checks the ID card the kiosk reads. Calls that move money
need an Idempotency-Key."""

from collections.abc import Callable
from functools import wraps

from flask.views import MethodView
from sqlalchemy import select

from app.api.auth import api_ctx, api_device
from app.api.blueprints import DEVICE_SECURITY, api_blueprint
from app.api.device_schemas import (
    BankTopUpSchema,
    DailyLimitSetSchema,
    KioskBankTopUpArgs,
    KioskCardSchema,
    KioskLimitArgs,
    KioskNetworkFeeArgs,
    KioskPasswordArgs,
    KioskQueryArgs,
    KioskReissueArgs,
    KioskReissuedSchema,
    LossStateSchema,
    NetworkFeePaidSchema,
    PasswordChangedSchema,
)
from app.api.idempotency import PARAMETER, idempotency_key
from app.uow import unit_of_work
from ledger.errors import InvalidInput, NotAllowed, NotFound
from ledger.models.cards import Card, Channel
from ledger.models.merchants import KioskKind
from ledger.ops.cards import report_loss, unfreeze_card
from ledger.ops.common import purse_balance, require_password
from ledger.ops.money import TopUpMethod, top_up
from ledger.ops.reissue import reissue_card
from ledger.ops.services import change_daily_limit, change_password, pay_network_fee
from ledger.queries import recent_journal

blp = api_blueprint("kiosk", "Self-service kiosks", "kiosks")
DEVICE = {"security": DEVICE_SECURITY}
MONEY = {"security": DEVICE_SECURITY, "parameters": [PARAMETER]}
#: How many of the holder's latest entries a look-up shows.
RECENT = 10
#: Where the holder is sent when a kiosk does not offer the service.
WHERE_ZH = {
    KioskKind.SELF_SERVICE: "请到圈存查询一体机办理",
    KioskKind.REISSUE: "请到自助补卡机办理",
}


def served_at(kind: KioskKind) -> Callable:
    """Decorator: NotAllowed (403) unless the calling kiosk is of `kind`, checked before the
    request's input is read."""

    def decorate(view):
        @wraps(view)
        def guarded(*args, **kwargs):
            if api_device().device_kind != kind:
                raise NotAllowed(
                    reason_zh=WHERE_ZH[kind], reason_en=f"this is done at a {kind.value} kiosk"
                )
            return view(*args, **kwargs)

        return guarded

    return decorate


def at_kiosk(operation, *args, keyed: bool = False, **kwargs) -> dict:
    """Run a ledger operation at this kiosk in one unit of work; with `keyed`, under the
    call's Idempotency-Key."""
    with unit_of_work():
        key = {"idempotency_key": idempotency_key()} if keyed else {}
        return operation(api_ctx(), *args, **kwargs, **key)


def _look_up(ctx, card_no: str, query_password: str) -> dict:
    """The card's state, balances and latest entries, for its holder (R06)."""
    card = ctx.session.scalar(select(Card).where(Card.card_no == card_no))
    if card is None:
        raise NotFound(what_zh="卡片", what_en="card", key=card_no)
    require_password(query_password, card.account.query_password_hash)
    lines = recent_journal(ctx.session, card.person_id, RECENT)
    return {
        "card_no": card.card_no, "state": card.state.value, "card_type": card.card_type.value,
        "balance": purse_balance(card), "transitional": card.account.transitional.balance,
        "daily_limit": card.account.daily_limit, "expires_on": card.expires_on,
        "recent": [
            {"at": line.at, "kind": line.kind.value, "amount": line.purse_change}
            for line in lines
        ],
    }  # fmt: skip


@blp.route("/kiosk/cards/query")
class Query(MethodView):
    @served_at(KioskKind.SELF_SERVICE)
    @blp.doc(**DEVICE)
    @blp.arguments(KioskQueryArgs)
    @blp.response(200, KioskCardSchema)
    def post(self, args):
        """The holder's look-up: state, balances, limit and latest entries (query password)."""
        return at_kiosk(_look_up, args["card_no"], args["query_password"])


@blp.route("/kiosk/cards/loss")
class Loss(MethodView):
    @served_at(KioskKind.SELF_SERVICE)
    @blp.doc(**DEVICE)
    @blp.arguments(KioskQueryArgs)
    @blp.response(200, LossStateSchema)
    def post(self, args):
        """Report the card lost (R13): it stops working at once."""
        password = args["query_password"]
        return at_kiosk(report_loss, args["card_no"], Channel.KIOSK, query_password=password)


@blp.route("/kiosk/cards/unfreeze")
class Unfreeze(MethodView):
    @served_at(KioskKind.SELF_SERVICE)
    @blp.doc(**DEVICE)
    @blp.arguments(KioskQueryArgs)
    @blp.response(200, LossStateSchema)
    def post(self, args):
        """Unfreeze a found card (R13); a card voided by a reissue never is (R15)."""
        password = args["query_password"]
        return at_kiosk(unfreeze_card, args["card_no"], Channel.KIOSK, query_password=password)


@blp.route("/kiosk/cards/daily-limit")
class DailyLimit(MethodView):
    @served_at(KioskKind.SELF_SERVICE)
    @blp.doc(**DEVICE)
    @blp.arguments(KioskLimitArgs)
    @blp.response(200, DailyLimitSetSchema)
    def post(self, args):
        """Change the daily limit (R07: only here, with the consumption password)."""
        return at_kiosk(
            change_daily_limit, args["card_no"], args["daily_limit"],
            channel=Channel.KIOSK, consume_password=args["consume_password"],
        )  # fmt: skip


@blp.route("/kiosk/cards/passwords")
class Passwords(MethodView):
    @served_at(KioskKind.SELF_SERVICE)
    @blp.doc(**DEVICE)
    @blp.arguments(KioskPasswordArgs)
    @blp.response(200, PasswordChangedSchema)
    def post(self, args):
        """Change the query or consumption password, proving the old one (R06)."""
        return at_kiosk(change_password, args["card_no"], args["which"], args["old"], args["new"])


@blp.route("/kiosk/bank-top-ups")
class BankTopUps(MethodView):
    @served_at(KioskKind.SELF_SERVICE)
    @blp.doc(**MONEY)
    @blp.arguments(KioskBankTopUpArgs)
    @blp.response(201, BankTopUpSchema)
    def post(self, args):
        """圈存: move money from the bound Bank of China debit card onto the card (R09)."""
        return at_kiosk(top_up, args["card_no"], args["amount"], TopUpMethod.BANK, keyed=True)


@blp.route("/kiosk/network-fees")
class NetworkFees(MethodView):
    @served_at(KioskKind.SELF_SERVICE)
    @blp.doc(**MONEY)
    @blp.arguments(KioskNetworkFeeArgs)
    @blp.response(201, NetworkFeePaidSchema)
    def post(self, args):
        """Pay the network fee for 1 to 4 weeks from this one (R26: students only)."""
        return at_kiosk(
            pay_network_fee, args["card_no"], args["weeks"],
            query_password=args["query_password"], keyed=True,
        )  # fmt: skip


def _reissue_own_card(ctx, card_no: str, id_number: str, new_card_no: str, **key) -> dict:
    """R15 at a reissue kiosk: the ID card read must be the holder's."""
    card = ctx.session.scalar(select(Card).where(Card.card_no == card_no))
    if card is None:
        raise NotFound(what_zh="卡片", what_en="card", key=card_no)
    if card.person.id_number.upper() != id_number.strip().upper():
        raise InvalidInput(
            reason_zh="身份证与持卡人不符", reason_en="the ID card is not the holder's"
        )
    return reissue_card(ctx, card_no, channel=Channel.REISSUE_KIOSK, new_card_no=new_card_no, **key)


@blp.route("/kiosk/reissues")
class Reissues(MethodView):
    @served_at(KioskKind.REISSUE)
    @blp.doc(**MONEY)
    @blp.arguments(KioskReissueArgs)
    @blp.response(201, KioskReissuedSchema)
    def post(self, args):
        """Reissue a lost or damaged student card (R15): same account and balance, the fee
        from the balance, which must be at least 20 yuan; the old card is void at once."""
        return at_kiosk(
            _reissue_own_card, args["card_no"], args["id_number"], args["new_card_no"],
            keyed=True,
        )  # fmt: skip

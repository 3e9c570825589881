"""Routes of the merchants blueprint: the merchant list and a merchant's page. The settlement
runs, adjustments and refund batches have their own modules, imported here."""

from flask import render_template, request
from flask_babel import lazy_gettext as _l

from app.i18n import current_language
from app.merchants import adjustments, bp, queries, refunds, settlements  # noqa: F401
from app.merchants.access import READERS, WRITERS
from app.web import env, has_any_role, requires
from forms.choices import choice_label
from ledger.models.merchants import MerchantCategory, OpenState
from ledger.ops.merchants import find_merchant
from workflows.identity import Role

STATE_LABELS = {OpenState.ACTIVE: _l("在用"), OpenState.CLOSED: _l("已撤销")}


@bp.context_processor
def merchant_labels() -> dict:
    """What the merchant templates use: choice labels (canteen, pos ...), open
    or closed, and whether the user may change anything here."""
    return {
        "choice": lambda value: choice_label(str(value), current_language()),
        "open_label": lambda state: STATE_LABELS.get(state, state),
        "may_settle": has_any_role(*WRITERS, Role.ADMIN),
    }


@bp.get("/merchants")
@requires(*READERS)
def index():
    """The merchants, narrowed by code or name, category, state and supervising department."""
    wanted = queries.MerchantFilter(
        q=request.args.get("q", "").strip(),
        category=request.args.get("category", ""),
        state=request.args.get("state", ""),
        department_id=request.args.get("department", type=int),
    )
    session = env().session
    return render_template(
        "merchants/index.html",
        merchants=queries.merchants(session, wanted),
        wanted=wanted,
        categories=list(MerchantCategory),
        states=list(OpenState),
        departments=queries.supervising_departments(session),
    )


@bp.get("/merchants/<code>")
@requires(*READERS)
def show(code: str):
    """One merchant: its facts, terminals, settlements, recent purchases and adjustments."""
    context = env()
    merchant = find_merchant(context.ledger_ctx(), code)
    session = context.session
    return render_template(
        "merchants/show.html",
        merchant=merchant,
        terminals=queries.terminals_of(session, merchant.id),
        settlements=queries.settlements_of(session, merchant.id),
        purchases=queries.recent_purchases(session, merchant.id),
        adjustments=queries.adjustments_of(session, merchant.id),
    )

"""Settlement runs (R11): who the next run settles, running it, past runs and a statement."""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import joinedload

from app.i18n import current_language
from app.merchants import bp, queries
from app.merchants.access import READERS, WRITERS
from app.paging import Page, campus_span, page_number
from app.web import env, perform, requires, yuan
from ledger.errors import DomainError, NotFound
from ledger.models.merchants import Settlement
from ledger.ops.settlement import run_settlement


@bp.get("/merchants/settlements")
@requires(*READERS)
def settlements():
    """Past settlements, latest run first, each merchant's statement a row; by merchant. A
    run's totals are over all its statements, also when the page shows only some of them."""
    session, code = env().session, request.args.get("merchant", "").strip()
    page = Page(page_number(request.args), queries.count_settlements(session, code))
    rows = queries.settlement_rows(session, code, page.offset, page.size)
    totals = queries.run_totals(session, (row.created_at for row in rows), code)
    return render_template(
        "merchants/settlements.html", rows=rows, totals=totals, page=page, merchant=code
    )


@bp.get("/merchants/settlements/<int:settlement_id>")
@requires(*READERS)
def statement(settlement_id: int):
    """One merchant's statement for a period, with the adjustments made in it."""
    context = env()
    settlement = context.session.get(
        Settlement, settlement_id, options=[joinedload(Settlement.merchant)]
    )
    if settlement is None:
        raise NotFound(what_zh="结算单", what_en="statement", key=settlement_id)
    span = campus_span(settlement.period_start, settlement.period_end, context.config.ledger.zone)
    adjustments = queries.adjustments_of(context.session, settlement.merchant_id, span)
    return render_template(
        "merchants/statement.html", settlement=settlement, adjustments=adjustments
    )


@bp.get("/merchants/settlements/run")
@requires(*WRITERS)
def confirm_run():
    """Who a settlement run would settle now, and for which days, before it is run."""
    context = env()
    due = queries.due_merchants(context.session, context.today)
    return render_template("merchants/run.html", due=due)


@bp.post("/merchants/settlements/run")
@requires(*WRITERS)
def run():
    """Settle every merchant whose period has run; the results are the newest statements."""
    context = env()
    try:
        results = perform(run_settlement, context.ledger_ctx())
    except DomainError as exc:
        flash(exc.message(current_language()), "error")
        return redirect(url_for("merchants.confirm_run"))
    if not results:
        flash(_("没有到期需要结算的商户。"), "info")
    else:
        paid = yuan(sum(row["payout"] for row in results))
        message = _("已结算 %(n)s 户商户，应付合计 %(paid)s 元。", n=len(results), paid=paid)
        flash(message, "success")
    return redirect(url_for("merchants.settlements"))

"""Settlement runs (R11): who the next run settles, running it, past runs and a statement
(on screen and as the printed 商户结算单)."""

from dataclasses import dataclass
from datetime import datetime

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import joinedload

from app.display import actor_name
from app.i18n import current_language, language
from app.merchants import bp, queries
from app.merchants.access import READERS, WRITERS
from app.paging import Page, campus_span, page_number
from app.printouts.respond import pdf_response, stamp
from app.web import env, perform, requires, yuan
from ledger.errors import DomainError, NotFound
from ledger.models.journal import JournalEntry
from ledger.models.merchants import Settlement
from ledger.ops.settlement import run_settlement
from reports.settlement import (
    SETTLEMENT,
    AdjustmentLine,
    settlement_reference,
    settlement_statement,
)
from workflows.context import Env


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


@dataclass(frozen=True)
class StatementFacts:
    """A settlement, the campus days it covers as moments, and the adjustments made in them."""

    settlement: Settlement
    span: tuple[datetime, datetime]
    adjustments: list[JournalEntry]


def statement_facts(context: Env, settlement_id: int) -> StatementFacts:
    """The statement `settlement_id` (NotFound if there is none)."""
    settlement = context.session.get(
        Settlement, settlement_id, options=[joinedload(Settlement.merchant)]
    )
    if settlement is None:
        raise NotFound(what_zh="结算单", what_en="statement", key=settlement_id)
    span = campus_span(settlement.period_start, settlement.period_end, context.config.ledger.zone)
    adjustments = queries.adjustments_of(context.session, settlement.merchant_id, span)
    return StatementFacts(settlement, span, adjustments)


def statement_data(context: Env, found: StatementFacts) -> dict:
    """The statement's data as printed (and as the API answers it): settlement_statement's,
    with who made each adjustment by name."""
    lines = [
        AdjustmentLine(
            entry.id, entry.at, entry.corrects_id, entry.card.card_no if entry.card else "",
            entry.amount, entry.memo or "", actor_name(context.session, entry.actor),
        )  # fmt: skip
        for entry in found.adjustments
    ]
    return settlement_statement(context.session, found.settlement, found.span, lines)


@bp.get("/merchants/settlements/<int:settlement_id>")
@requires(*READERS)
def statement(settlement_id: int):
    """One merchant's statement for a period, with the adjustments made in it."""
    found = statement_facts(env(), settlement_id)
    return render_template(
        "merchants/statement.html", settlement=found.settlement, adjustments=found.adjustments
    )


@bp.get("/merchants/settlements/<int:settlement_id>.pdf")
@requires(*READERS)
def statement_pdf(settlement_id: int):
    """The statement as the printed 商户结算单, for the merchant and the settlement centre to
    sign."""
    context = env()
    found = statement_facts(context, settlement_id)
    with language("zh"):
        data = statement_data(context, found)
    reference = settlement_reference(found.settlement)
    printed = stamp(reference, "merchants.statement", "结算单号", settlement_id=settlement_id)
    return pdf_response(SETTLEMENT, data, printed, f"商户结算单-{reference}")


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

"""Bank refund batches (R14): graduates' balances paid to their subsidy bank cards. The
settlement centre picks pending refunds, checks the batch (and downloads it as CSV for the
bank), then confirms it; the ledger pays exactly those refunds or none.

Refunds that a forced termination request holds in its own batch are confirmed in that
request's task instead, so they are shown but not offered here."""

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.merchants import bp, queries
from app.merchants.access import READERS, WRITERS
from app.printouts.respond import pdf_response, stamp
from app.web import env, perform_and_tell, requires, yuan
from ledger.ops.closing import pay_bank_refunds
from reports.refunds import REFUND_BATCH, bank_refund_batch_csv, batch_list, batch_reference


def _chosen(values) -> list[int]:
    """The refund ids of the `refund_id` fields, each once, in order."""
    return sorted({int(v) for v in values.getlist("refund_id") if str(v).isdigit()})


@bp.get("/merchants/refunds")
@requires(*READERS)
def refunds():
    """The pending bank refunds, to pick a batch from."""
    context = env()
    return render_template(
        "merchants/refunds.html",
        refunds=queries.pending_bank_refunds(context.session),
        held=queries.refunds_held_by_requests(context),
    )


@bp.get("/merchants/refunds/batch")
@requires(*WRITERS)
def batch():
    """The chosen refunds as a batch to check (count, total, CSV) before paying it."""
    chosen = _chosen(request.args)
    if not chosen:
        return _none_chosen()
    rows = queries.pending_bank_refunds(env().session, chosen)
    total = sum(row.refund.amount for row in rows)
    return render_template("merchants/batch.html", rows=rows, chosen=chosen, total=total)


@bp.get("/merchants/refunds/batch.csv")
@requires(*WRITERS)
def batch_csv():
    """The chosen refunds as the CSV file sent to the bank."""
    text = bank_refund_batch_csv(env().session, _chosen(request.args))
    return Response(
        text,
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=bank-refund-batch.csv"},
    )


@bp.get("/merchants/refunds/batch.pdf")
@requires(*WRITERS)
def batch_pdf():
    """The chosen refunds as the printed list (the CSV's refunds), to sign and file."""
    chosen = _chosen(request.args)
    if not chosen:
        return _none_chosen()
    data = batch_list(env().session, chosen)
    printed = stamp(batch_reference(chosen), "merchants.batch", "退款编号", refund_id=chosen)
    return pdf_response(REFUND_BATCH, data, printed, f"退款批次清单-{chosen[0]}")


def _none_chosen():
    """Back to the refund list: a batch needs at least one refund."""
    flash(_("请至少选择一笔退款。"), "error")
    return redirect(url_for("merchants.refunds"))


@bp.post("/merchants/refunds/pay")
@requires(*WRITERS)
def pay():
    """Pay exactly the chosen refunds to their bank cards, or none of them."""
    chosen, context = _chosen(request.form), env()
    refusal = _refusal(context, chosen)
    if refusal:
        flash(refusal, "error")
        return redirect(url_for("merchants.refunds"))
    perform_and_tell(
        pay_bank_refunds, context.ledger_ctx(), refund_ids=chosen,
        done=lambda paid: _("已支付 %(n)s 笔银行退款，合计 %(total)s 元。", n=paid["count"],
                            total=yuan(paid["total"])),
    )  # fmt: skip
    return redirect(url_for("merchants.refunds"))


def _refusal(context, chosen: list[int]) -> str | None:
    """Why the batch `chosen` may not be paid here, or None: it is empty, holds refunds of a
    termination request's own batch, or refunds of holders with no bank card on file (paid
    in cash at the counter instead). The ledger checks the rest (pending bank refunds)."""
    if not chosen:
        return _("请至少选择一笔退款。")
    held = queries.refunds_held_by_requests(context)
    taken = [i for i in chosen if i in held]
    if taken:
        return _(
            "退款 %(ids)s 属于强制终止申请 %(keys)s 的退款批次，须在该申请的待办任务中确认。",
            ids=", ".join(map(str, taken)),
            keys=", ".join(sorted({held[i].business_key for i in taken})),
        )
    rows = queries.pending_bank_refunds(context.session, chosen)
    no_card = [row.refund.id for row in rows if not row.bank_card_no]
    if no_card:
        return _(
            "退款 %(ids)s 的持卡人未登记银行卡，须到柜台领取现金。",
            ids=", ".join(map(str, no_card)),
        )
    return None

"""Adjustments (调账, R11): a purchase charged twice is put right by paying the cardholder back
from the merchant's settlement account; the purchase itself is never edited."""

import uuid

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError

from app.formfields import describe, flat_errors, parse
from app.i18n import current_language
from app.merchants import bp, queries
from app.merchants.access import WRITERS
from app.merchants.forms import AdjustmentForm
from app.web import env, perform, requires, yuan
from ledger.errors import DomainError
from ledger.ops.settlement import post_adjustment

FORM = AdjustmentForm()


@bp.get("/merchants/adjustments/new")
@requires(*WRITERS)
def new_adjustment():
    """The adjustment form, for the purchase `entry_id` when the query names one."""
    values = {"entry_id": request.args.get("entry_id", "")}
    return _form(values, {}, str(uuid.uuid4()))


@bp.post("/merchants/adjustments")
@requires(*WRITERS)
def post():
    """Post the adjustment; bad input, or an amount above what is left of the purchase, shows
    the form again with the message and changes nothing. A resubmitted form (same key) posts
    nothing twice."""
    values, key = dict(request.form), request.form.get("request_key", "")
    try:
        data = FORM.load(parse(FORM, request.form))
    except ValidationError as exc:
        return _form(values, flat_errors(exc.messages), key), 422
    try:
        done = perform(
            post_adjustment, env().ledger_ctx(), data["entry_id"], data["amount"], data["reason"],
            idempotency_key=key or None,
        )  # fmt: skip
    except DomainError as exc:
        return _form(values, {"_schema": exc.message(current_language())}, key), exc.status
    flash(_("已调账 %(amount)s 元（流水号 %(id)s）。", amount=yuan(done["amount"]),
            id=done["entry_id"]), "success")  # fmt: skip
    original = queries.purchase(env().session, data["entry_id"])
    return redirect(url_for("merchants.show", code=original.merchant.code))


def _form(values: dict, errors: dict, key: str):
    """The form with `values` kept and `errors` beside them, and the purchase it corrects."""
    session = env().session
    entry_id = str(values.get("entry_id", ""))
    original = queries.purchase(session, int(entry_id)) if entry_id.isdigit() else None
    given_back = 0
    if original is not None:
        given_back = queries.adjusted_amounts(session, [original.id]).get(original.id, 0)
    return render_template(
        "merchants/adjustment.html",
        fields=describe(FORM, values, errors),
        errors=errors,
        original=original,
        given_back=given_back,
        request_key=key,
    )

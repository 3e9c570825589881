"""The pages of one counter operation: the form, the confirmation (确认办理) and the receipt.

GET shows the form. POST with step=review checks the input and shows exactly what will happen,
with a fresh idempotency key; POST with step=confirm checks again, runs the operation in the
request's unit of work and redirects to the printable receipt (app.counter.receipts), so a
refresh of the receipt repeats nothing. A confirmation posted twice carries the same key, so
the ledger returns the first result (the checks, which the first one passed and which its own
effect may now fail, are not made again), nothing happens twice and it leads to the first
receipt; a confirmation without a key (for an operation that takes one) is shown again rather
than run.
step=edit goes back to the form with the input kept. Nothing is written before the
confirmation.
"""

import uuid

from flask import flash, redirect, render_template, request
from flask_babel import gettext as _
from marshmallow import ValidationError

from app.counter.labels import label
from app.counter.operation import FieldProblem, Operation, Refused
from app.counter.receipts import receipt_url
from app.formfields import describe, flat_errors, parse
from app.i18n import current_language
from app.web import env, perform
from ledger.context import Ctx
from ledger.errors import DomainError
from ledger.models.cards import Card
from ledger.models.people import Person
from ledger.queries import idempotency_key_used

#: Posted fields that the confirmation page does not post back as they came.
_NOT_POSTED_BACK = {"csrf_token", "step", "idempotency_key"}
#: The hidden input naming an operation's target and the target's attribute it holds.
TARGET_FIELDS = {"card": ("card_no", "card_no"), "refund": ("refund_id", "id")}


def operation_page(op: Operation, person: Person, target):
    """The controller of operation `op` on `target`, one of `person`'s cards or refunds or the
    person (see the module's docstring)."""
    ctx = env().ledger_ctx()
    step = request.form.get("step") if request.method == "POST" else None
    if step is None:
        return _form(op, ctx, person, target, op.initial(target))
    raw = parse(op.schema, request.form)
    if step == "edit":
        return _form(op, ctx, person, target, raw)
    try:
        data = op.schema.load(raw)
    except ValidationError as exc:
        return _form(op, ctx, person, target, raw, flat_errors(exc.messages))
    key = request.form.get("idempotency_key") if op.keyed else None
    try:
        if not (step == "confirm" and key and idempotency_key_used(ctx.session, key)):
            op.check(ctx, target, data)
        if step != "confirm" or (op.keyed and not key):
            return _confirmation(op, ctx, person, target, data)
        result = perform(op.run, ctx, target, data, key)
    except FieldProblem as problem:
        return _form(op, ctx, person, target, raw, {problem.field: problem.message})
    except (Refused, DomainError) as problem:
        return _form(op, ctx, person, target, raw, {"_schema": _message(problem)})
    flash(_("%(operation)s已办理完成。", operation=op.title), "success")
    return redirect(receipt_url(op.record(ctx, result)))


def _message(problem: Refused | DomainError) -> str:
    if isinstance(problem, DomainError):
        return problem.message(current_language())
    return problem.message


def _unavailable(op: Operation, target) -> str:
    if isinstance(target, Card):
        state = label(target.state)
        return _(
            "该卡当前状态为“%(state)s”，不能办理%(operation)s", state=state, operation=op.title
        )
    return _("当前不能办理%(operation)s", operation=op.title)


def _page(template: str, op: Operation, person: Person, target, **context):
    name, attribute = TARGET_FIELDS.get(op.target, (None, None))
    value = getattr(target, attribute) if attribute else None
    return render_template(
        template, op=op, person=person, target=target, target_field=(name, value), **context
    )


def _form(op: Operation, ctx: Ctx, person: Person, target, values: dict, errors=None):
    """The form with `values` and the input's `errors` (422), or a word on why the operation
    is not possible for the target now."""
    shown = dict(errors or {})
    if not shown and not op.applies_to(ctx, target):
        shown["_schema"] = _unavailable(op, target)
    page = _page(
        "counter/form.html", op, person, target,
        fields=describe(op.schema, values, shown), errors=shown, notice=op.notice(ctx, target),
    )  # fmt: skip
    return page, 422 if errors else 200


def _confirmation(op: Operation, ctx: Ctx, person: Person, target, data: dict):
    posted = [(k, v) for k, v in request.form.items(multi=True) if k not in _NOT_POSTED_BACK]
    return _page(
        "counter/confirm.html", op, person, target,
        rows=op.preview(ctx, target, data), posted=posted,
        key=uuid.uuid4().hex if op.keyed else None,
    )  # fmt: skip

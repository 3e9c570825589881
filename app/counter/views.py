"""Routes of the counter blueprint: find a cardholder, see them, and carry out an operation
for them (each with its form, confirmation and receipt, see app.counter.flow). The card
office only; administrators too."""

from flask import abort, render_template, request
from sqlalchemy import select

from app.counter import bp, records
from app.counter.card_ops import CARD_OPERATIONS, ISSUE
from app.counter.flow import operation_page
from app.counter.labels import label, refund_reason
from app.counter.money_ops import MONEY_OPERATIONS, REFUND
from app.counter.receipts import receipt_page, receipt_pdf
from app.i18n import language
from app.printouts.respond import pdf_response, stamp
from app.web import env, requires
from ledger.context import Ctx
from ledger.models.cards import Card
from ledger.models.money import Refund
from ledger.models.people import Person
from ledger.ops.metering import open_hold
from ledger.queries import (
    card_account_of,
    cards_of,
    find_cardholders,
    pending_refunds,
    recent_journal,
)
from reports.statement import (
    STATEMENT,
    cardholder_statement,
    statement_period,
    statement_reference,
)
from workflows.identity import Role

#: Operations on a card, in the order the person page offers them.
ON_CARDS = (*MONEY_OPERATIONS, *CARD_OPERATIONS)
OPERATIONS = {op.name: op for op in (*ON_CARDS, ISSUE, REFUND)}
#: What names a receipt: journal entries of these kinds, card events of these reasons (each
#: the record of one operation).
RECEIPT_ENTRIES = {kind for op in OPERATIONS.values() for kind in op.entry_kinds}
RECEIPT_EVENTS = {op.event_reason: op for op in OPERATIONS.values() if op.event_reason}


@bp.context_processor
def _helpers() -> dict:
    return {"label": label, "refund_reason": refund_reason}


@bp.get("/counter")
@requires(Role.CARD_OFFICE)
def index():
    """Find a cardholder by name, card number (or its start) or the last digits of the ID."""
    query = request.args.get("q", "").strip()
    found = find_cardholders(env().session, query) if query else []
    return render_template("counter/index.html", query=query, found=found)


def _person_or_404(person_id: int) -> Person:
    person = env().session.get(Person, person_id)
    if person is None:
        abort(404)
    return person


@bp.get("/counter/people/<int:person_id>")
@requires(Role.CARD_OFFICE)
def person(person_id: int):
    """A cardholder: identity, cards and what can be done with each, balances, the open
    pre-deduction, pending refunds, the recent journal and counter operations (each with its
    receipt)."""
    holder = _person_or_404(person_id)
    context = env()
    ctx, session = context.ledger_ctx(), context.session
    account = card_account_of(session, person_id)
    cards = cards_of(session, person_id)
    return render_template(
        "counter/person.html",
        person=holder,
        account=account,
        cards=[(card, [op for op in ON_CARDS if op.applies_to(ctx, card)]) for card in cards],
        can_issue=ISSUE.applies_to(ctx, holder),
        hold=open_hold(ctx, account) if account else None,
        refunds=pending_refunds(session, person_id),
        journal=recent_journal(session, person_id),
        receipt_entries=RECEIPT_ENTRIES,
        events=_receipt_events(ctx, person_id),
        event_operations=RECEIPT_EVENTS,
    )


def _receipt_events(ctx: Ctx, person_id: int) -> list:
    """The person's recent card events that name a receipt (a reissue's is the new card's)."""
    found = records.recent_receipt_events(ctx.session, person_id, RECEIPT_EVENTS)
    return [
        (event, no) for event, no in found if RECEIPT_EVENTS[event.reason].recorded_by(ctx, event)
    ]


def _target_or_404(kind: str, person: Person):
    """The card or refund the request names, if it is the person's; or the person."""
    session = env().session
    if kind == "person":
        return person
    if kind == "refund":
        found = session.get(Refund, request.values.get("refund_id", type=int) or 0)
    else:
        number = request.values.get("card_no", "")
        found = session.scalar(select(Card).where(Card.card_no == number))
    if found is None or found.person_id != person.id:
        abort(404)
    return found


@bp.get("/counter/people/<int:person_id>/statement.pdf")
@requires(Role.CARD_OFFICE)
def statement_pdf(person_id: int):
    """The cardholder's statement (校园卡对账单) for the campus days `from` to `to` (the last
    30 days if left out), printed in Chinese; 400 for a reversed or too long range."""
    holder, context = _person_or_404(person_id), env()
    days = statement_period(request.args.get("from"), request.args.get("to"), context.today)
    with language("zh"):
        data = cardholder_statement(
            context.session, holder, days, context.config.ledger.zone, kind_label=label
        )
    reference = statement_reference(person_id, days)
    printed = stamp(reference, "counter.person", "对账单号", person_id=person_id)
    return pdf_response(STATEMENT, data, printed, f"对账单-{reference}")


@bp.route("/counter/people/<int:person_id>/<name>", methods=["GET", "POST"])
@requires(Role.CARD_OFFICE)
def operation(person_id: int, name: str):
    """One operation for the person: form, confirmation, receipt (see app.counter.flow)."""
    op = OPERATIONS.get(name) or abort(404)
    holder = _person_or_404(person_id)
    return operation_page(op, holder, _target_or_404(op.target, holder))


@bp.get("/counter/receipts/<any(entry, event):kind>/<int:ref>")
@requires(Role.CARD_OFFICE)
def receipt(kind: str, ref: int):
    """The receipt of a counter operation, drawn again from the journal entry or card event
    the ledger recorded of it (read-only): after a confirmation, or to reprint."""
    return receipt_page(OPERATIONS.values(), kind, ref)


@bp.get("/counter/receipts/<any(entry, event):kind>/<int:ref>.pdf")
@requires(Role.CARD_OFFICE)
def receipt_as_pdf(kind: str, ref: int):
    """The receipt as a printed PDF (PDF/A), to print, sign and file."""
    return receipt_pdf(OPERATIONS.values(), kind, ref)

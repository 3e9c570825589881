"""Receipts (回执) of counter operations, drawn from the ledger's record of each (a journal
entry, or a card event if no money moved): the page after a confirmation (which redirects
here, so a refresh repeats nothing) and whenever a receipt is opened again to reprint it. Reads
only."""

from collections.abc import Iterable

from flask import abort, render_template, url_for
from flask_babel import gettext as _

from app.counter import records
from app.counter.labels import label
from app.counter.operation import Operation
from app.counter.records import Record
from app.display import actor_name
from app.i18n import language
from app.printouts.respond import pdf_response, stamp
from app.web import env
from ledger.models.journal import JournalEntry
from reports.receipt import RECEIPT


def receipt_url(record: Record) -> str:
    """Where the receipt named by `record` is shown."""
    return url_for("counter.receipt", kind=records.kind_of(record), ref=record.id)


def receipt_facts(operations: Iterable[Operation], kind: str, ref: int) -> dict:
    """What the receipt of the operation (one of `operations`) the ledger recorded as `kind`
    `ref` shows, in the UI language; 404 if there is no such record or it is no counter
    operation's."""
    ctx = env().ledger_ctx()
    record = records.record_of(ctx.session, kind, ref)
    op = next((op for op in operations if op.recorded_by(ctx, record)), None) if record else None
    if op is None:
        abort(404)
    return {
        "op": op, "person": records.card_of(ctx.session, record).person,
        "rows": op.receipt(ctx, record), "reference": _reference(record),
        "clerk": actor_name(ctx.session, record.actor), "at": record.at, "url": receipt_url(record),
        "pdf": url_for("counter.receipt_as_pdf", kind=kind, ref=ref),
    }  # fmt: skip


def receipt_page(operations: Iterable[Operation], kind: str, ref: int):
    """The receipt's page (see `receipt_facts`)."""
    return render_template("counter/receipt.html", **receipt_facts(operations, kind, ref))


def receipt_pdf(operations: Iterable[Operation], kind: str, ref: int):
    """The receipt as a printed PDF, in Chinese (see `receipt_facts`)."""
    with language("zh"):
        facts = receipt_facts(operations, kind, ref)
        person = facts["person"]
        data = {
            "operation": str(facts["op"].title),
            "holder": f"{person.name}（{label(person.id_type)} {person.masked_id}）",
            "rows": [(str(name), str(value)) for name, value in facts["rows"]],
            "record": facts["reference"], "clerk": facts["clerk"], "at": facts["at"],
        }  # fmt: skip
    printed = stamp(facts["reference"], "counter.receipt", "凭证号", kind=kind, ref=ref)
    return pdf_response(RECEIPT, data, printed, f"回执-{kind}-{ref}")


def _reference(record: Record) -> str:
    if isinstance(record, JournalEntry):
        return _("记账分录 %(number)s", number=record.id)
    return _("卡片记录 %(number)s", number=record.id)

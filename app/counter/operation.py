"""What every counter operation is: a form, the checks made before the clerk confirms, what
the confirmation page shows, the one ledger call, and what the receipt shows.

An operation acts on a target: one of the person's cards, one of their refunds, or the person
(issuing a card). The flow (app.counter.flow) draws the pages; operations only say what is
on them and call the ledger. A receipt is drawn from what the ledger recorded (a journal entry
if money moved, else a card event), never from the form: the same page right after the
confirmation and whenever it is opened again (app.counter.receipts).
"""

from flask_babel import gettext as _
from marshmallow import Schema

from app.counter import records
from app.counter.labels import label
from app.counter.records import Record
from app.web import yuan
from ledger.context import Ctx
from ledger.models.journal import EntryKind, JournalEntry
from ledger.models.people import mask_id_number

#: A line of a confirmation or a receipt: (label, value).
Row = tuple[str, str]


class FieldProblem(Exception):
    """Input the ledger would refuse, shown beside its field."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field, self.message = field, message


class Refused(Exception):
    """Something the counter cannot do for this target now, shown above the form."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def money(fen: int) -> str:
    """An amount in fen as "12.50 元" in the user's language."""
    return _("%(amount)s 元", amount=yuan(fen))


def identity_rows(prefix: str, who: dict | None, masked: bool) -> list[Row]:
    """The lines naming a delegate or claimant (`prefix` names the role) and their ID, whole
    on screen for the clerk, masked on paper."""
    if not who:
        return []
    number = mask_id_number(who["id_number"]) if masked else who["id_number"]
    document = f"{label(who.get('id_type'))} {number}".strip()
    rows = [(prefix, who["name"]), (_("证件"), document)]
    if who.get("evidence"):
        evidence = label(who["evidence"])
        if who.get("evidence_ref"):
            evidence = _("%(what)s（%(detail)s）", what=evidence, detail=who["evidence_ref"])
        rows.append((_("委托凭证"), evidence))
    return rows


class Operation:
    """One operation at the counter. Subclasses set the class attributes and say what the
    pages show; `run` is the only method that writes."""

    name: str  # in the URL
    title: str  # a lazy message
    schema: Schema
    target: str = "card"  # "card", "refund" or "person"
    keyed: bool = True  # the ledger call takes an idempotency key
    danger: bool = False  # the confirm button is drawn as a dangerous one
    #: What the ledger records of the operation: entries of these kinds if money moves, else
    #: the card's event with this reason (the ledger's own words, e.g. "reported lost").
    entry_kinds: tuple[EntryKind, ...] = ()
    event_reason: str | None = None

    def applies_to(self, ctx: Ctx, target) -> bool:
        """Whether the operation can be offered for `target` as it is now."""
        return True

    def initial(self, target) -> dict:
        """The form's values before the clerk types anything."""
        return {}

    def notice(self, ctx: Ctx, target) -> str | None:
        """A warning above the form (the counter closed, say), or None."""
        return None

    def check(self, ctx: Ctx, target, data: dict) -> None:
        """Refuse (FieldProblem, Refused or a DomainError) what would fail; only reads."""

    def preview(self, ctx: Ctx, target, data: dict) -> list[Row]:
        """Exactly what will happen, for the confirmation page."""
        raise NotImplementedError

    def run(self, ctx: Ctx, target, data: dict, key: str | None) -> dict:
        """Call the ledger once; `key` is the idempotency key of the confirmation."""
        raise NotImplementedError

    def record(self, ctx: Ctx, result: dict) -> Record | None:
        """What the ledger recorded of the operation whose `result` this is (its receipt is
        named by it): the journal entry if money moved, else the card's event of it."""
        if result.get("entry_id"):
            return ctx.session.get(JournalEntry, result["entry_id"])
        return records.latest_event(ctx.session, result["card_no"], self.event_reason)

    def recorded_by(self, ctx: Ctx, record: Record) -> bool:
        """Whether `record` is the ledger's record of this operation."""
        if isinstance(record, JournalEntry):
            return record.kind in self.entry_kinds
        return self.event_reason is not None and record.reason == self.event_reason

    def receipt(self, ctx: Ctx, record: Record) -> list[Row]:
        """What the receipt of the operation `record` recorded shows."""
        raise NotImplementedError

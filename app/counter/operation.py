"""What every counter operation is: a form, the checks made before the clerk confirms, what
the confirmation page shows, the one ledger call, and what the receipt shows.

An operation acts on a target: one of the person's cards, one of their refunds, or the person
(issuing a card). The flow (app.counter.flow) draws the pages; operations only say what is
on them and call the ledger.
"""

from flask_babel import gettext as _
from marshmallow import Schema

from app.counter.labels import label
from app.web import yuan
from ledger.context import Ctx
from ledger.models.cards import CardEvent
from ledger.models.journal import JournalEntry
from ledger.models.people import mask_id_number
from ledger.queries import latest_card_event

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
    rows = [(prefix, who["name"]), (_("证件"), f"{label(who.get('id_type'))} {number}")]
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

    def receipt(self, ctx: Ctx, result: dict, target, data: dict) -> list[Row]:
        """What the receipt shows of the ledger's `result`."""
        raise NotImplementedError

    def record(self, ctx: Ctx, result: dict) -> JournalEntry | CardEvent | None:
        """What the ledger recorded of it (its time, clerk and number go on the receipt): the
        journal entry if money moved, else the card's latest event."""
        if result.get("entry_id"):
            return ctx.session.get(JournalEntry, result["entry_id"])
        return latest_card_event(ctx.session, result["card_no"])

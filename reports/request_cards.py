"""The printed forms of the card requests: the 临时卡申请表 (R20, R21), the record of a card
reissue with its delegation (R03, R15, R16) and the forced termination roster by reason
(R19), and the card on file that a reissue names, read from the ledger."""

from marshmallow import Schema, fields
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from forms.termination import REASON_LABELS, REASONS
from ledger.models.cards import STATE_ZH, TYPE_ZH, Card, CardState, CardType
from ledger.ops.closing import TerminationReason
from reports.formats import Yuan, ZhDate
from reports.pdf import Document
from reports.request_forms import (
    ChoiceLabel,
    DecisionSchema,
    MaskedIdNumber,
    RequestFormSchema,
    optional_nested,
    optional_string,
)

# --- 临时卡申请表 ---------------------------------------------------------------------------


class TemporaryPersonSchema(Schema):
    """A person the department applies for, and the card they were given at the counter
    (`outcome`: issued, refused, lapsed or period_over; "" while they have not come)."""

    name = fields.String()
    id_type = ChoiceLabel()
    id_number = MaskedIdNumber()
    post = optional_string()
    phone = optional_string()
    work_from = ZhDate()
    work_until = ZhDate()
    outcome = optional_string()
    card_no = optional_string()
    expires_on = ZhDate(dump_default=None)


class CertificationSchema(DecisionSchema):
    """The department head's certification that the people are the department's own (R20)."""

    certified = fields.Boolean(dump_default=False)


class ScreeningSchema(Schema):
    """What the card system found of the people (R01, R02, R20): nothing wrong, or why not."""

    ok = fields.Boolean()
    problems = fields.Function(lambda found: "；".join(p["zh"] for p in found["problems"]))


class TemporaryCardSchema(RequestFormSchema):
    """临时卡申请表 (R20, R21): the people, the reason, the fee (R03), the certification, what
    the check of the people found (and who certified people reported as not the
    department's), and the card office's review."""

    people = fields.List(fields.Nested(TemporaryPersonSchema))
    count = fields.Function(lambda data: len(data["people"]))
    reason = optional_string()
    fee = Yuan(dump_default=None)
    certification = optional_nested(CertificationSchema)
    screening = optional_nested(ScreeningSchema)
    reported_by = optional_string()
    review = optional_nested(DecisionSchema)


TEMPORARY_CARD = Document("request_temporary_card.html", "临时卡申请表", TemporaryCardSchema())

# --- 补办校园卡 -------------------------------------------------------------------------------


class CardTypeLabel(fields.Field):
    """Dumps a card type by its Chinese name: temporary -> 临时卡."""

    def _serialize(self, value, attr, obj, **kwargs):
        return TYPE_ZH[CardType(value)] if value else ""


class CardStateLabel(fields.Field):
    """Dumps a card state by its Chinese name: replaced -> 已补办作废."""

    def _serialize(self, value, attr, obj, **kwargs):
        return STATE_ZH[CardState(value)] if value else ""


class HolderSchema(Schema):
    """The card a request names, as the ledger has it now, and its holder."""

    name = fields.String()
    id_type = ChoiceLabel()
    id_number = MaskedIdNumber()
    card_type = CardTypeLabel()
    state = CardStateLabel()


class DelegateSchema(Schema):
    """Who came for the holder (R16): their own ID and what shows the holder sent them."""

    name = fields.String()
    id_type = ChoiceLabel()
    id_number = MaskedIdNumber()
    evidence = ChoiceLabel()
    evidence_ref = optional_string(allow_none=True)


class CounterCheckSchema(DecisionSchema):
    """The counter's step: the IDs checked and the fee collected."""

    identity_checked = fields.Boolean(dump_default=False)
    fee_paid = fields.Boolean(dump_default=False)


class ReissuedSchema(Schema):
    """The new card the reissue gave (R15): same account, the old one void."""

    card_no = fields.String()
    replaces = fields.String()
    fee = Yuan()
    balance = Yuan()


class CardReissueSchema(RequestFormSchema):
    """补办校园卡 (R03, R15, R16): the card and its holder, who came, the fee, the counter's
    check and the new card."""

    card_no = fields.String()
    reason = ChoiceLabel()
    delegated = fields.Boolean()
    delegate = optional_nested(DelegateSchema)
    holder = optional_nested(HolderSchema)
    fee = Yuan(dump_default=None)
    fee_from_balance = fields.Boolean(dump_default=False)
    counter = optional_nested(CounterCheckSchema)
    reissued = optional_nested(ReissuedSchema)


CARD_REISSUE = Document("request_card_reissue.html", "补办校园卡申请表", CardReissueSchema())


def card_on_file(session: Session, card_no: str) -> dict | None:
    """The card numbered `card_no` and its holder as the ledger has them (None if unknown),
    for `HolderSchema`."""
    query = select(Card).where(Card.card_no == card_no).options(joinedload(Card.person))
    card = session.scalar(query)
    if card is None:
        return None
    person = card.person
    return {
        "name": person.name, "id_type": person.id_type.value, "id_number": person.id_number,
        "card_type": card.card_type.value, "state": card.state.value,
    }  # fmt: skip


# --- 强制终止名单 -----------------------------------------------------------------------------


class RosterEntrySchema(Schema):
    """A card on the roster; `excluded` if the IT centre spared it."""

    card_no = fields.String()
    name = fields.String()
    id_number = MaskedIdNumber(dump_default=None)
    excluded = fields.Boolean()


class ReasonGroupSchema(Schema):
    """The roster's entries of one reason: how many are listed, excluded, to be ended."""

    reason = fields.String()
    count = fields.Integer()
    excluded = fields.Integer()
    ended = fields.Function(lambda group: group["count"] - group["excluded"])
    entries = fields.List(fields.Nested(RosterEntrySchema))


class EvidenceSchema(Schema):
    """The confirming department's evidence of a breach, a disappearance or a death (R19)."""

    confirming_department = optional_string()
    document_ref = optional_string()


class RefundTallySchema(Schema):
    """How many refunds took one route, and how much in all."""

    count = fields.Integer()
    amount = Yuan()


class TerminationResultSchema(Schema):
    """What ending the cards did: how many, which had ended already, the refunds by route."""

    terminated = fields.Integer()
    skipped = fields.Method("_skipped")
    refunds = fields.Dict(keys=fields.String(), values=fields.Nested(RefundTallySchema))
    bank_batch_ref = optional_string()

    def _skipped(self, result: dict) -> int:
        return len(result.get("skipped", []))


class TerminationRosterSchema(RequestFormSchema):
    """The roster grouped by reason, in the order of R19, with the count of each."""

    groups = fields.Method("_groups")
    total = fields.Method("_total")
    evidence = optional_nested(EvidenceSchema)
    note = optional_string()
    review = optional_nested(DecisionSchema)
    result = optional_nested(TerminationResultSchema)

    def _groups(self, data: dict) -> list[dict]:
        return ReasonGroupSchema(many=True).dump(roster_groups(data["entries"], data["excluded"]))

    def _total(self, data: dict) -> dict:
        excluded = set(data["excluded"])
        count = len(data["entries"])
        spared = sum(1 for entry in data["entries"] if entry["card_no"] in excluded)
        return {"count": count, "excluded": spared, "ended": count - spared}


def roster_groups(entries: list[dict], excluded: list[str]) -> list[dict]:
    """The roster's entries by reason (graduated, withdrawn, left, breach, missing,
    deceased; only reasons listed), each entry marked if the IT centre excluded it."""
    spared = set(excluded)
    groups = []
    for reason in REASONS:
        listed = [
            entry | {"excluded": entry["card_no"] in spared}
            for entry in entries
            if entry["reason"] == reason
        ]
        if listed:
            groups.append({
                "reason": REASON_LABELS[TerminationReason(reason)][0], "count": len(listed),
                "excluded": sum(entry["excluded"] for entry in listed), "entries": listed,
            })  # fmt: skip
    return groups


FORCED_TERMINATION = Document(
    "request_forced_termination.html", "校园卡强制终止名单", TerminationRosterSchema()
)

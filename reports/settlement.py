"""The weekly merchant settlement statement (商户结算单, R11): the period's turnover (how many
purchases, how much), the adjustments that gave double charges back (each with its reason and
who made it), the management fee at the merchant's rate and what is paid to its settlement
account, with boxes for the settlement centre's clerk and the merchant to sign.

The amounts are the settlement's own, as the ledger computed them when it ran
(`ledger.ops.settlement.settle_merchant`); only the number of purchases is counted here."""

from dataclasses import dataclass
from datetime import datetime

from marshmallow import Schema, fields
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.models.journal import JournalEntry
from ledger.models.merchants import Settlement
from ledger.ops.settlement import TURNOVER_KINDS
from reports.formats import CampusDateTime, Yuan, ZhDate
from reports.pdf import Document


@dataclass(frozen=True)
class AdjustmentLine:
    """An adjustment of the period as the statement lists it; `who` is the clerk's name."""

    entry_id: int
    at: datetime
    corrects_id: int | None
    card_no: str
    amount: int
    reason: str
    who: str


def purchase_count(session: Session, merchant_id: int, span: tuple[datetime, datetime]) -> int:
    """How many purchases and metered payments (the entries the turnover sums) were made at
    the merchant from span[0] up to span[1]."""
    return session.scalar(
        select(func.count(JournalEntry.id)).where(
            JournalEntry.merchant_id == merchant_id,
            JournalEntry.kind.in_(TURNOVER_KINDS),
            JournalEntry.at >= span[0],
            JournalEntry.at < span[1],
        )
    )


def settlement_reference(settlement: Settlement) -> str:
    """What names a statement on paper: the merchant's code and the period's last day
    (one statement per merchant and period end): MARKET-20261127."""
    return f"{settlement.merchant.code}-{settlement.period_end:%Y%m%d}"


def settlement_statement(
    session: Session,
    settlement: Settlement,
    span: tuple[datetime, datetime],
    adjustments: list[AdjustmentLine],
) -> dict:
    """The statement's data: the settlement of the campus days `span` covers, with its
    merchant, its number of purchases, and `adjustments` (those of the period) oldest
    first."""
    merchant = settlement.merchant
    return {
        "merchant_code": merchant.code,
        "merchant_name": merchant.name,
        "supervisor": merchant.supervising_department.name_zh,
        "settlement_account": merchant.settlement_account,
        "period_start": settlement.period_start,
        "period_end": settlement.period_end,
        "settled_at": settlement.created_at,
        "entry_id": settlement.entry_id,
        "purchases": purchase_count(session, merchant.id, span),
        "turnover": settlement.turnover,
        "adjustments": settlement.adjustments,
        "net_turnover": settlement.turnover - settlement.adjustments,
        "fee_rate_bp": merchant.fee_rate_bp,
        "fee": settlement.fee,
        "payout": settlement.payout,
        "adjustment_lines": sorted(adjustments, key=lambda line: (line.at, line.entry_id)),
    }


class AdjustmentLineSchema(Schema):
    entry_id = fields.Integer()
    at = CampusDateTime()
    corrects_id = fields.Integer()
    card_no = fields.String()
    amount = Yuan()
    reason = fields.String()
    who = fields.String()


class SettlementSchema(Schema):
    merchant_code = fields.String()
    merchant_name = fields.String()
    supervisor = fields.String()
    settlement_account = fields.String()
    period_start = ZhDate()
    period_end = ZhDate()
    settled_at = CampusDateTime()
    entry_id = fields.Integer()
    purchases = fields.Integer()
    turnover = Yuan()
    adjustments = Yuan()
    net_turnover = Yuan()
    fee_rate = fields.Method("percent")
    fee = Yuan()
    payout = Yuan()
    adjustment_lines = fields.List(fields.Nested(AdjustmentLineSchema))

    def percent(self, data: dict) -> str:
        """The fee rate in basis points as a percentage: 50 -> "0.50%"."""
        rate = data["fee_rate_bp"]
        return f"{rate // 100}.{rate % 100:02d}%"


SETTLEMENT = Document("settlement.html", "商户结算单", SettlementSchema())

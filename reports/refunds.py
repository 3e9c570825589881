"""The bank refund batch (R14): graduates' balances to their bank cards. The settlement centre
downloads it as a CSV file to check and send to the bank, and prints it as a list
(强制终止退款批次清单) to sign and file, before confirming the batch. Both are drawn from one
query of the ledger (`batch_refunds`), so the file and the paper always list the same
refunds."""

import csv
import io
from dataclasses import dataclass

from marshmallow import Schema, fields
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.models.accounts import CardAccount
from ledger.models.cards import Card
from ledger.models.money import Refund, RefundState
from ledger.models.people import Person
from ledger.ops.common import yuan
from reports.formats import Yuan
from reports.pdf import Document

HEADER = ("序号", "退款编号", "校园卡号", "姓名", "证件号码", "银行卡号", "金额（元）", "状态")
STATE_ZH = {"pending": "待退款", "paid": "已退款"}
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
#: How many refund ids a printed batch's reference names before it abbreviates.
_NAMED_IDS = 4


@dataclass(frozen=True)
class BatchRefund:
    """One refund of a batch with its holder and the bank card it is paid to."""

    refund_id: int
    card_no: str
    name: str
    masked_id: str
    bank_card_no: str | None
    amount: int
    state: RefundState

    @property
    def state_zh(self) -> str:
        """The refund's state as the batch writes it (待退款, 已退款)."""
        return STATE_ZH.get(self.state.value, self.state.value)


def batch_refunds(session: Session, refund_ids: list[int]) -> list[BatchRefund]:
    """The refunds `refund_ids` in id order, each with its holder (name and masked ID
    number), card number and the bank card on file; whatever their state, which the batch
    shows."""
    query = (
        select(Refund, Card.card_no, Person, CardAccount.bank_card_no)
        .join(Card, Refund.card_id == Card.id)
        .join(Person, Refund.person_id == Person.id)
        .join(CardAccount, Card.card_account_id == CardAccount.id)
        .where(Refund.id.in_(refund_ids))
        .order_by(Refund.id)
    )
    return [
        BatchRefund(
            refund.id, card_no, person.name, person.masked_id, bank_card_no, refund.amount,
            refund.state,
        )  # fmt: skip
        for refund, card_no, person, bank_card_no in session.execute(query)
    ]


def bank_refund_batch_csv(session: Session, refund_ids: list[int]) -> str:
    """The refunds `refund_ids` as CSV text, one row each in id order (holder, masked ID
    number, bank card number, amount in yuan) and a total row; it starts with a BOM so that
    Excel reads it as UTF-8."""
    rows = batch_refunds(session, refund_ids)
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for number, row in enumerate(rows, 1):
        writer.writerow(
            (number, row.refund_id, row.card_no, _cell(row.name), row.masked_id,
             row.bank_card_no or "", yuan(row.amount), row.state_zh)
        )  # fmt: skip
    total = sum(row.amount for row in rows)
    writer.writerow(("合计", "", "", f"{len(rows)} 笔", "", "", yuan(total), ""))
    return out.getvalue()


def _cell(text: str) -> str:
    """Text a spreadsheet will not run as a formula."""
    return f"'{text}" if text.startswith(_FORMULA) else text


def batch_reference(refund_ids: list[int]) -> str:
    """What names a printed batch: its refund ids ("12、13、15"), the first and last of a
    long one with the count ("12、13 … 40（共 9 笔）")."""
    ids = sorted(refund_ids)
    if len(ids) <= _NAMED_IDS:
        return "、".join(map(str, ids))
    return f"{ids[0]}、{ids[1]} … {ids[-1]}（共 {len(ids)} 笔）"


def batch_list(session: Session, refund_ids: list[int]) -> dict:
    """The printed list's data: the refunds (`batch_refunds`), how many and their total."""
    rows = batch_refunds(session, refund_ids)
    return {"rows": rows, "count": len(rows), "total": sum(row.amount for row in rows)}


class BatchRefundSchema(Schema):
    refund_id = fields.Integer()
    card_no = fields.String()
    name = fields.String()
    masked_id = fields.String()
    bank_card_no = fields.String()
    amount = Yuan()
    state_zh = fields.String()


class RefundBatchSchema(Schema):
    rows = fields.List(fields.Nested(BatchRefundSchema))
    count = fields.Integer()
    total = Yuan()


REFUND_BATCH = Document("refund_batch.html", "强制终止退款批次清单", RefundBatchSchema())

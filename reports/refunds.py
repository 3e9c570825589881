"""The bank refund batch (R14): graduates' balances to their bank cards, as a CSV file the
settlement centre downloads, checks and sends to the bank before confirming the batch."""

import csv
import io

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.models.accounts import CardAccount
from ledger.models.cards import Card
from ledger.models.money import Refund
from ledger.models.people import Person
from ledger.ops.common import yuan

HEADER = ("序号", "退款编号", "校园卡号", "姓名", "证件号码", "银行卡号", "金额（元）", "状态")
STATE_ZH = {"pending": "待退款", "paid": "已退款"}
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def bank_refund_batch_csv(session: Session, refund_ids: list[int]) -> str:
    """The refunds `refund_ids` as CSV text, one row each in id order (holder, masked ID
    number, bank card number, amount in yuan) and a total row; it starts with a BOM so that
    Excel reads it as UTF-8."""
    query = (
        select(Refund, Card.card_no, Person, CardAccount.bank_card_no)
        .join(Card, Refund.card_id == Card.id)
        .join(Person, Refund.person_id == Person.id)
        .join(CardAccount, Card.card_account_id == CardAccount.id)
        .where(Refund.id.in_(refund_ids))
        .order_by(Refund.id)
    )
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    total = count = 0
    for count, (refund, card_no, person, bank_card_no) in enumerate(session.execute(query), 1):
        total += refund.amount
        writer.writerow(
            (
                count,
                refund.id,
                card_no,
                _cell(person.name),
                person.masked_id,
                bank_card_no or "",
                yuan(refund.amount),
                STATE_ZH.get(refund.state.value, refund.state.value),
            )
        )
    writer.writerow(("合计", "", "", f"{count} 笔", "", "", yuan(total), ""))
    return out.getvalue()


def _cell(text: str) -> str:
    """Text a spreadsheet will not run as a formula."""
    return f"'{text}" if text.startswith(_FORMULA) else text

"""The bank refund batch as the printed list (强制终止退款批次清单, R14): the same refunds, in the
same order, as the CSV file sent to the bank, with the holders' ID numbers masked, each
refund's bank card and state, the count and the total."""

import csv
import re
from datetime import UTC, datetime

import pytest

from ledger.models.people import PersonCategory as P
from ledger.ops.closing import pay_bank_refunds, terminate_card
from reports.pdf import Stamp, render
from reports.refunds import (
    REFUND_BATCH,
    bank_refund_batch_csv,
    batch_list,
    batch_reference,
    batch_refunds,
)
from tests.pdf_support import page_count, pdf_text

STAMP = Stamp("12、13", "http://card.example.edu.cn/merchants/refunds/batch?refund_id=12",
              datetime(2026, 11, 28, 2, 0, tzinfo=UTC), "退款编号")  # fmt: skip


@pytest.fixture
def batch(ctx, make) -> list[int]:
    """Three graduates' bank refunds (34.56, 1,234.00 and 12.00); the last holder has no bank
    card on file."""
    ids = []
    holders = (("吴俊杰", 3_456), ("孙浩然", 123_400), ("周雨桐", 1_200))
    for n, (name, balance) in enumerate(holders):
        card = make.card(P.UNDERGRADUATE, balance=balance, name=name,
                         id_number=f"44010620011207{n:04d}")  # fmt: skip
        card.account.bank_card_no = f"621700000000000{n:04d}" if n < 2 else None
        ids.append(terminate_card(ctx, card.card_no, "graduated")["refund_id"])
    return ids


def test_r14_the_list_and_the_csv_hold_the_same_refunds(ctx, batch):
    rows = batch_refunds(ctx.session, batch)
    text = bank_refund_batch_csv(ctx.session, batch).lstrip("\ufeff")
    table = list(csv.reader(text.splitlines()))
    assert [int(line[1]) for line in table[1:-1]] == [row.refund_id for row in rows] == batch
    assert [line[3] for line in table[1:-1]] == [row.name for row in rows]
    data = batch_list(ctx.session, list(reversed(batch)))
    assert data["rows"] == rows and (data["count"], data["total"]) == (3, 128_056)
    assert table[-1][6] == "1280.56"  # the CSV's amounts stay plain for the bank


def test_r14_the_printed_list_shows_holders_cards_amounts_and_the_total(ctx, batch):
    printed = render(REFUND_BATCH, batch_list(ctx.session, batch), STAMP)
    text = pdf_text(printed)
    assert "强制终止退款批次清单" in text and "退款编号：12、13" in text
    cards = [row.card_no for row in batch_refunds(ctx.session, batch)]
    rows = [line.split() for line in text.splitlines() if re.match(r"\s+[123]\s+\d+\s", line)]
    assert rows == [
        ["1", str(batch[0]), "吴俊杰", "4401**********0000", cards[0], "6217000000000000000",
         "34.56", "待退款"],
        ["2", str(batch[1]), "孙浩然", "4401**********0001", cards[1], "6217000000000000001",
         "1,234.00", "待退款"],
        ["3", str(batch[2]), "周雨桐", "4401**********0002", cards[2], "未登记（柜台领取现金）",
         "12.00", "待退款"],
    ]  # fmt: skip
    assert "440106200112070000" not in text
    assert re.search(r"合计\s+3\s*笔\s+1,280\.56", text)
    assert re.search(r"合计金额\s+1,280\.56 元", text)
    assert "结算中心经办人" in text and "复核人" in text and page_count(printed) == 1


def test_r14_a_paid_refund_is_listed_as_paid(ctx, batch):
    pay_bank_refunds(ctx, batch[:2])
    text = pdf_text(render(REFUND_BATCH, batch_list(ctx.session, batch), STAMP))
    assert text.count("已退款") == 2 and text.count("待退款") == 1


@pytest.mark.parametrize(
    ("ids", "reference"),
    [
        ([12], "12"),
        ([15, 12, 13], "12、13、15"),
        ([12, 13, 14, 15], "12、13、14、15"),
        ([40, 12, 13, 14, 15, 16, 17, 18, 19], "12、13 … 40（共 9 笔）"),
    ],
)
def test_the_list_is_named_by_its_refunds(ids, reference):
    assert batch_reference(ids) == reference

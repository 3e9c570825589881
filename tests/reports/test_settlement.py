"""The merchant settlement statement (商户结算单, R11): the settlement's own amounts, the number
of purchases of its period, its adjustments, and the printed text, where turnover less
adjustments less the fee is the payout."""

import re
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from ledger.models.journal import EntryKind, JournalEntry
from ledger.models.merchants import Settlement
from ledger.ops.money import purchase
from ledger.ops.settlement import post_adjustment, settle_merchant
from reports.pdf import Stamp, render
from reports.settlement import (
    SETTLEMENT,
    AdjustmentLine,
    purchase_count,
    settlement_reference,
    settlement_statement,
)
from tests.conftest import SHANGHAI
from tests.ledger.helpers import password_of
from tests.pdf_support import page_count, pdf_text

ADMISSION_DAY = date(2026, 11, 27)  # the `ctx` day


def day(n: int, hour: int = 12) -> datetime:
    return datetime.combine(ADMISSION_DAY + timedelta(days=n), time(hour), tzinfo=SHANGHAI)


@pytest.fixture
def settled(ctx, at, make):
    """A week at the commercial shop MARKET (0.5%): 120.00, 35.50 and 8.88 spent, 35.50 of it
    a double charge given back; a purchase after the week; then the week settled."""
    merchant = make.merchant(
        code="MARKET", name="校内超市", commercial=True, settlement_account="0200 0045 0901 8866"
    )
    pos = make.terminal(merchant)
    card = make.card(balance=100_000)
    spent = [
        purchase(at(day(n)), card.card_no, pos, amount, consume_password=password_of(card))
        for n, amount in ((0, 12_000), (2, 3_550), (6, 888))
    ]
    post_adjustment(at(day(3), "user:settlement"), spent[1]["entry_id"], 3_550, "系统重复扣款")
    purchase(at(day(7, 9)), card.card_no, pos, 500, consume_password=password_of(card))
    result = settle_merchant(at(day(7, 10)), "MARKET")
    return ctx.session.get(Settlement, result["settlement_id"])


def span_of(settlement: Settlement) -> tuple[datetime, datetime]:
    start = datetime.combine(settlement.period_start, time(0), tzinfo=SHANGHAI)
    return start, datetime.combine(settlement.period_end + timedelta(days=1), time(0), SHANGHAI)


def adjustment_lines(ctx, settlement: Settlement) -> list[AdjustmentLine]:
    entries = ctx.session.scalars(
        select(JournalEntry).where(
            JournalEntry.merchant_id == settlement.merchant_id,
            JournalEntry.kind == EntryKind.ADJUSTMENT,
        )
    )
    return [
        AdjustmentLine(e.id, e.at, e.corrects_id, e.card.card_no, e.amount, e.memo,
                       "结算中心会计（settlement）")  # fmt: skip
        for e in entries
    ]


def statement_of(ctx, settlement: Settlement) -> dict:
    lines = adjustment_lines(ctx, settlement)
    return settlement_statement(ctx.session, settlement, span_of(settlement), lines)


def test_r11_the_statement_carries_the_settlement_s_amounts(ctx, settled):
    data = statement_of(ctx, settled)
    assert (data["period_start"], data["period_end"]) == (ADMISSION_DAY, date(2026, 12, 3))
    assert (data["purchases"], data["turnover"], data["adjustments"]) == (3, 16_438, 3_550)
    assert (data["net_turnover"], data["fee"], data["payout"]) == (12_888, 64, 12_824)
    assert data["net_turnover"] - data["fee"] == data["payout"]
    assert settlement_reference(settled) == "MARKET-20261203"


def test_r11_the_purchases_counted_are_those_of_the_period(ctx, settled):
    start, end = span_of(settled)
    assert purchase_count(ctx.session, settled.merchant_id, (start, end)) == 3
    assert purchase_count(ctx.session, settled.merchant_id, (start, end + timedelta(1))) == 4


def test_r11_the_printed_statement_adds_up(ctx, settled):
    stamp = Stamp("MARKET-20261203", "http://card.example.edu.cn/merchants/settlements/1",
                  datetime(2026, 12, 4, 3, 0, tzinfo=UTC), "结算单号")  # fmt: skip
    printed = render(SETTLEMENT, statement_of(ctx, settled), stamp)
    text = pdf_text(printed)
    for shown in (
        "商户结算单", "2026年11月27日 至 2026年12月3日", "0200 0045 0901 8866",
        "结算单号：MARKET-20261203", "2026-12-04 10:00", "系统重复扣款",
        "结算中心会计（settlement）", "结算中心经办人", "商户（签章）",
    ):  # fmt: skip
        assert shown in text
    assert re.search(r"MARKET\s+校内超市", text)
    assert re.search(r"营业额\s+3\s*笔\s+164\.38", text)
    assert re.search(r"减：调账退回\s+1\s*笔\s+35\.50", text)
    assert re.search(r"计费营业额\s+128\.88", text)
    assert re.search(r"管理费（费率 0\.50%）\s+0\.64", text)
    assert re.search(r"应付商户\s+128\.24", text)
    assert re.search(r"合计 1 笔\s+35\.50", text)
    assert page_count(printed) == 1


def test_r11_a_statement_without_adjustments_says_so(ctx, at, make):
    merchant = make.merchant(name="第二食堂")  # not commercial: no fee, no account on file
    card = make.card(balance=5_000)
    purchase(ctx, card.card_no, make.terminal(merchant), 1_234)
    settlement = ctx.session.get(
        Settlement, settle_merchant(at(day(7)), merchant.code)["settlement_id"]
    )
    text = pdf_text(render(SETTLEMENT, statement_of(ctx, settlement), Stamp("x", "http://x/",
                                                                           day(7))))
    assert "本期无调账" in text and "未登记" in text
    assert re.search(r"管理费（费率 0\.00%）\s+0\.00", text)
    assert re.search(r"应付商户\s+12\.34", text)

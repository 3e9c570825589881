"""The cardholder's statement (校园卡对账单): the range of campus days it covers (R09's
Asia/Shanghai days, inclusive), its balances and lines summed from the ledger's postings, so
that the opening balance plus what came in less what went out is the closing balance, and
the ledger's own balances agree; and the printed text."""

import re
from datetime import UTC, date, datetime, time

import pytest
from sqlalchemy import select

from app.counter.records import balances_as_of
from ledger.errors import NotFound
from ledger.models.journal import EntryKind, JournalEntry
from ledger.ops.money import TopUpMethod, claim_transitional, purchase, top_up
from ledger.queries import card_account_of
from reports.pdf import Stamp, render
from reports.statement import (
    STATEMENT,
    Balances,
    InvalidPeriod,
    cardholder_statement,
    statement_period,
)
from tests.conftest import SHANGHAI
from tests.pdf_support import page_count, pdf_text

#: Names of the kinds the tests post (the app passes its own labels, in Chinese).
KINDS = {
    EntryKind.TOPUP_CASH: "现金充值",
    EntryKind.TOPUP_WECHAT: "微信充值（过渡余额）",
    EntryKind.CLAIM_TRANSITIONAL: "过渡余额入卡",
    EntryKind.PURCHASE: "消费",
}
DECEMBER = (date(2026, 12, 1), date(2026, 12, 10))
STAMP = Stamp("1-20261201-20261210", "http://card.example.edu.cn/counter/people/1",
              datetime(2026, 12, 11, 2, 0, tzinfo=UTC), "对账单号")  # fmt: skip


def moment(month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime.combine(date(2026, month, day), time(hour, minute, second), tzinfo=SHANGHAI)


@pytest.fixture
def history(ctx, at, make):
    """A holder's card topped up 100.00 in cash on 27 November (the `ctx` day), then:
    28 Nov 12.50 spent; in December (1st to 10th) 3.00 spent at midnight on the 1st, 30.00
    from WeChat on the 3rd (transitional), 8.80 spent on the 5th, the 30.00 claimed on the
    8th, 1.00 spent a second before the 11th; 2.00 spent at midnight on the 11th."""
    merchant = make.merchant(name="第一食堂")
    pos = make.terminal(merchant)
    department = make.department()
    person = make.person(name="王建国", id_number="110105197503120318", department=department)
    card = make.card(balance=10_000, person=person).card_no
    purchase(at(moment(11, 28, 12)), card, pos, 1_250)
    purchase(at(moment(12, 1, 0)), card, pos, 300)
    top_up(at(moment(12, 3, 9)), card, 3_000, TopUpMethod.WECHAT)
    purchase(at(moment(12, 5, 12)), card, pos, 880)
    claim_transitional(at(moment(12, 8, 12, 5)), card, pos)
    purchase(at(moment(12, 10, 23, 59, 59)), card, pos, 100)
    purchase(at(moment(12, 11, 0)), card, pos, 200)
    return {"person": person, "card_no": card, "terminal": pos, "department": department}


def statement(ctx, person, days=DECEMBER) -> dict:
    return cardholder_statement(ctx.session, person, days, ctx.config.zone, KINDS.__getitem__)


def entry_at(ctx, when: datetime) -> JournalEntry:
    return ctx.session.scalar(select(JournalEntry).where(JournalEntry.at == when))


def test_the_statement_adds_up_opening_plus_in_less_out_is_closing(ctx, history):
    data = statement(ctx, history["person"])
    assert data["opening"] == Balances(purse=8_750, transitional=0)
    assert (data["total_in"], data["total_out"]) == (3_000, 1_280)
    assert data["closing"] == Balances(purse=10_470, transitional=0)
    assert data["opening"].total + data["total_in"] - data["total_out"] == data["closing"].total
    running = data["opening"].total
    for line in data["lines"]:
        running += (line["amount_in"] or 0) - (line["amount_out"] or 0)
        assert line["after"].total == running


def test_the_balances_agree_with_the_ledger(ctx, history):
    """The opening balance is the ledger's just after the last entry before the range, the
    closing one just after the last entry in it; after the entry after the range too, the
    account's own balances."""
    data = statement(ctx, history["person"])
    account = card_account_of(ctx.session, history["person"].id)
    before = entry_at(ctx, moment(11, 28, 12))
    last = entry_at(ctx, moment(12, 10, 23, 59, 59))
    assert Balances(*balances_as_of(ctx.session, account, before)) == data["opening"]
    assert Balances(*balances_as_of(ctx.session, account, last)) == data["closing"]
    everything = statement(ctx, history["person"], (date(2026, 11, 1), date(2026, 12, 31)))
    assert everything["opening"] == Balances(0, 0)
    assert everything["closing"] == Balances(account.purse.balance, account.transitional.balance)


def test_the_range_is_whole_campus_days_inclusive(ctx, history):
    lines = statement(ctx, history["person"])["lines"]
    assert [line["at"] for line in lines] == [
        moment(12, 1, 0), moment(12, 3, 9), moment(12, 5, 12), moment(12, 8, 12, 5),
        moment(12, 10, 23, 59, 59),
    ]  # fmt: skip
    assert [line["kind"] for line in lines] == [
        "消费", "微信充值（过渡余额）", "消费", "过渡余额入卡", "消费"
    ]  # fmt: skip


def test_r09_a_wechat_top_up_is_shown_apart_until_it_is_claimed(ctx, history):
    data = statement(ctx, history["person"])
    top_up_line, claim = data["lines"][1], data["lines"][3]
    assert data["with_transitional"] is True
    assert (top_up_line["amount_in"], top_up_line["after"]) == (3_000, Balances(8_450, 3_000))
    assert (claim["amount_in"], claim["amount_out"]) == (None, None)  # moved, not earned
    assert claim["after"] == Balances(10_570, 0)
    quiet = statement(ctx, history["person"], (date(2026, 11, 28), date(2026, 11, 30)))
    assert quiet["with_transitional"] is False


def test_the_printed_statement_names_the_holder_and_every_amount(ctx, history):
    printed = render(STATEMENT, statement(ctx, history["person"]), STAMP)
    text = pdf_text(printed)
    for shown in (
        "校园卡对账单", "王建国", "1101**********0318", history["department"].name_zh,
        history["card_no"], "2026年12月1日 至 2026年12月10日", "对账单号：1-20261201-20261210",
    ):  # fmt: skip
        assert shown in text
    assert "110105197503120318" not in text
    assert "87.50 元（卡内余额 87.50 元，过渡余额 0.00 元）" in text
    assert "104.70 元（卡内余额 104.70 元，过渡余额 0.00 元）" in text
    pos = history["terminal"]
    assert rows_of(text) == [
        ["2026-12-01", "00:00", "消费", "第一食堂", pos, "3.00", "84.50", "0.00"],
        ["2026-12-03", "09:00", "微信充值（过渡余额）", "30.00", "84.50", "30.00"],
        ["2026-12-05", "12:00", "消费", "第一食堂", pos, "8.80", "75.70", "30.00"],
        ["2026-12-08", "12:05", "过渡余额入卡", "第一食堂", pos, "105.70", "0.00"],
        ["2026-12-10", "23:59", "消费", "第一食堂", pos, "1.00", "104.70", "0.00"],
    ]
    assert re.search(r"合计 5 笔\s+30\.00\s+12\.80\s+104\.70\s+0\.00", text)
    assert page_count(printed) == 1


def rows_of(text: str) -> list[list[str]]:
    """The words of the statement's entry rows (those starting with a December day)."""
    return [line.split() for line in text.splitlines() if line.lstrip().startswith("2026-")]


def test_a_holder_without_transitional_money_gets_one_balance_column(ctx, history):
    data = statement(ctx, history["person"], (date(2026, 11, 27), date(2026, 11, 30)))
    text = pdf_text(render(STATEMENT, data, STAMP))
    assert "余额（元）" in text and "过渡余额" not in text
    assert (data["opening"].total, data["total_in"], data["total_out"]) == (0, 10_000, 1_250)
    assert re.search(r"期初余额\s+0\.00 元", text) and re.search(r"期末余额\s+87\.50 元", text)
    assert [row[-3:] for row in rows_of(text)] == [
        ["现金充值", "100.00", "100.00"], [history["terminal"], "12.50", "87.50"]
    ]  # fmt: skip


def test_a_range_without_entries_says_so(ctx, history):
    data = statement(ctx, history["person"], (date(2027, 1, 1), date(2027, 1, 31)))
    assert data["lines"] == [] and data["opening"] == data["closing"] == Balances(10_270, 0)
    assert "本期无交易" in pdf_text(render(STATEMENT, data, STAMP))


def test_someone_who_never_had_a_card_has_no_statement(ctx, make):
    with pytest.raises(NotFound):
        statement(ctx, make.person())


# --- the range ----------------------------------------------------------------------------

TODAY = date(2026, 11, 27)


@pytest.mark.parametrize(
    ("first", "last", "days"),
    [
        (None, None, (date(2026, 10, 29), TODAY)),  # the last 30 days
        ("", "", (date(2026, 10, 29), TODAY)),
        ("2026-11-01", None, (date(2026, 11, 1), TODAY)),
        (None, "2026-10-31", (date(2026, 10, 2), date(2026, 10, 31))),
        ("2026-11-27", "2026-11-27", (TODAY, TODAY)),  # one day
        ("2025-11-27", "2026-11-27", (date(2025, 11, 27), TODAY)),  # 366 days
    ],
)
def test_the_range_defaults_to_the_last_30_days(first, last, days):
    assert statement_period(first, last, TODAY) == days


@pytest.mark.parametrize(
    ("first", "last", "says"),
    [
        ("2026-11-27", "2026-11-26", "起始日期 2026-11-27 晚于截止日期 2026-11-26"),
        ("2025-11-26", "2026-11-27", "最长 366 天，所选为 367 天"),
        ("2026-13-01", "", "“2026-13-01”不是 YYYY-MM-DD 格式的日期"),
        ("", "yesterday", "“yesterday”不是 YYYY-MM-DD 格式的日期"),
    ],
)
def test_a_reversed_too_long_or_unreadable_range_is_refused(first, last, says):
    with pytest.raises(InvalidPeriod) as refused:
        statement_period(first, last, TODAY)
    assert refused.value.status == 400
    assert refused.value.message("zh") == f"对账期间无效：{says}"
    assert refused.value.message("en").startswith("Invalid statement period: ")

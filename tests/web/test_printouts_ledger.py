"""The ledger's printed documents from the demo data: the bank refund batch list (R14, next to
its CSV), a merchant's settlement statement (R11) and a cardholder's statement for a range of
days; who may print each, and that printing changes nothing."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from app.extensions import db
from ledger.models.journal import EntryKind, JournalEntry
from ledger.models.merchants import Merchant, Settlement
from ledger.models.money import Refund
from ledger.models.people import Department, IdType, Person, PersonCategory
from ledger.queries import card_account_of
from tests.pdf_support import page_count, pdf_text
from tests.web.counter_support import SHANGHAI, holder
from tests.web.test_counter_receipts import counts
from tests.web.test_merchants import (
    WEEK_LATER,
    a_market_purchase,
    adjustment_form,
    graduate_refunds,
)


def is_pdf(reply) -> bool:
    return reply.status_code == 200 and reply.mimetype == "application/pdf"


def yuan(fen: int) -> str:
    return f"{fen // 100:,}.{fen % 100:02d}"


# --- the bank refund batch (R14) ----------------------------------------------------------


def batch_url(kind: str, ids) -> str:
    return f"/merchants/refunds/{kind}?" + "&".join(f"refund_id={i}" for i in ids)


def test_r14_the_batch_list_prints_the_refunds_of_the_csv(as_user, in_db):
    first, second = graduate_refunds(in_db, ["吴俊杰", "孙浩然"])
    client = as_user("settlement")
    assert batch_url("batch.pdf", [first, second]) in client.get(
        batch_url("batch", [first, second])
    ).get_data(as_text=True).replace("&amp;", "&")
    before = counts(in_db)
    reply = client.get(batch_url("batch.pdf", [first, second]))
    assert is_pdf(reply) and page_count(reply.data) == 1
    text = pdf_text(reply.data)
    csv = client.get(batch_url("batch.csv", [first, second])).get_data(as_text=True)
    for name, masked in (("吴俊杰", "4401**********0813"), ("孙浩然", "5101**********0035")):
        assert name in text and masked in text and name in csv and masked in csv
    assert "440106200112070813" not in text
    total = in_db(lambda: sum(db.session.get(Refund, i).amount for i in (first, second)))
    assert f"{total // 100}.{total % 100:02d}\r\n" in csv.replace(",\r\n", "\r\n")
    assert re.search(rf"合计\s+2\s*笔\s+{re.escape(yuan(total))}", text)
    assert f"退款编号：{first}、{second}" in text and counts(in_db) == before


def test_r14_a_batch_list_needs_a_refund(as_user):
    reply = as_user("settlement").get("/merchants/refunds/batch.pdf")
    assert reply.status_code == 302 and reply.headers["Location"].endswith("/merchants/refunds")


@pytest.mark.parametrize(
    ("login", "status"),
    [("settlement", 200), ("admin", 200), ("cardoffice", 403), ("applicant", 403)],
)
def test_r14_only_the_settlement_centre_prints_a_batch(as_user, in_db, login, status):
    (refund_id,) = graduate_refunds(in_db, ["吴俊杰"])
    assert as_user(login).get(batch_url("batch.pdf", [refund_id])).status_code == status


# --- the merchant settlement statement (R11) ----------------------------------------------


def settle_market_with_an_adjustment(as_user, in_db) -> int:
    """A double charge at MARKET given back (1.05), then next week's run: MARKET's
    statement's id."""
    entry_id = in_db(lambda: a_market_purchase().id)
    as_user("settlement").post("/merchants/adjustments", data=adjustment_form(entry_id, "1.05"))
    with time_machine.travel(datetime.now(UTC) + WEEK_LATER, tick=False):
        as_user("settlement").post("/merchants/settlements/run")
    return in_db(lambda: db.session.scalar(
        select(Settlement.id).join(Merchant).where(Merchant.code == "MARKET")
    ))  # fmt: skip


def test_r11_the_statement_prints_turnover_fee_adjustments_and_payout(as_user, in_db):
    settlement_id = settle_market_with_an_adjustment(as_user, in_db)

    def facts():
        row = db.session.get(Settlement, settlement_id)
        bought = db.session.scalar(select(func.count(JournalEntry.id)).where(
            JournalEntry.merchant_id == row.merchant_id, JournalEntry.kind == EntryKind.PURCHASE
        ))  # fmt: skip
        return row.turnover, row.adjustments, row.fee, row.payout, bought, row.period_end

    turnover, adjusted, fee, payout, bought, last_day = in_db(facts)
    assert adjusted == 105 and turnover - adjusted - fee == payout
    client = as_user("cardoffice")
    page = client.get(f"/merchants/settlements/{settlement_id}").get_data(as_text=True)
    assert f"/merchants/settlements/{settlement_id}.pdf" in page
    reply = client.get(f"/merchants/settlements/{settlement_id}.pdf")
    assert is_pdf(reply) and page_count(reply.data) == 1
    text = pdf_text(reply.data)
    assert re.search(r"MARKET\s+校内超市", text) and f"MARKET-{last_day:%Y%m%d}" in text
    assert re.search(rf"营业额\s+{bought}\s*笔\s+{re.escape(yuan(turnover))}", text)
    assert re.search(r"减：调账退回\s+1\s*笔\s+1\.05", text)
    assert re.search(rf"管理费（费率 0\.50%）\s+{re.escape(yuan(fee))}", text)
    assert re.search(rf"应付商户\s+{re.escape(yuan(payout))}", text)
    assert "系统重复扣款" in text and "结算中心会计（settlement）" in text


@pytest.mark.parametrize(
    ("login", "status"),
    [("settlement", 200), ("cardoffice", 200), ("admin", 200), ("applicant", 403),
     ("supervisor", 403)],  # fmt: skip
)
def test_r11_merchant_readers_print_a_statement(as_user, in_db, login, status):
    settlement_id = settle_market_with_an_adjustment(as_user, in_db)
    assert as_user(login).get(f"/merchants/settlements/{settlement_id}.pdf").status_code == status


def test_r11_an_unknown_statement_is_404(as_user):
    assert as_user("settlement").get("/merchants/settlements/99999.pdf").status_code == 404


# --- the cardholder's statement -----------------------------------------------------------


def statement_url(person_id: int, first: str | None = None, last: str | None = None) -> str:
    query = "&".join(f"{k}={v}" for k, v in (("from", first), ("to", last)) if v is not None)
    return f"/counter/people/{person_id}/statement.pdf" + (f"?{query}" if query else "")


def amount_after(label: str, text: str) -> int:
    """The fen of the amount printed after `label` ("期末余额   191.00 元")."""
    found = re.search(rf"{label}\s+([\d,]+)\.(\d\d) 元", text)
    return int(found[1].replace(",", "")) * 100 + int(found[2])


def test_the_statement_of_the_last_30_days_adds_up_to_the_ledger_s_balance(as_user, in_db):
    person_id, card_no = holder(in_db, "王建国")
    client = as_user("cardoffice")
    page = client.get(f"/counter/people/{person_id}").get_data(as_text=True)
    assert f'action="/counter/people/{person_id}/statement.pdf"' in page
    before = counts(in_db)
    reply = client.get(statement_url(person_id))
    assert is_pdf(reply) and counts(in_db) == before
    text = pdf_text(reply.data)
    for shown in ("校园卡对账单", "王建国", "1101**********0318", "石油工程学院", card_no,
                  "银行圈存", "消费", "第一食堂"):  # fmt: skip
        assert shown in text
    assert "110105197503120318" not in text
    opening, closing = amount_after("期初余额", text), amount_after("期末余额", text)
    came_in, went_out = amount_after("本期收入", text), amount_after("本期支出", text)
    purse = in_db(lambda: card_account_of(db.session, person_id).purse.balance)
    assert (opening, closing) == (0, purse) and opening + came_in - went_out == closing
    today = datetime.now(SHANGHAI).date()
    first = today - timedelta(days=29)
    assert f"{first.year}年{first.month}月{first.day}日 至 {today.year}年{today.month}月" in text


def test_a_statement_before_the_card_was_used_is_empty(as_user, in_db):
    person_id, _card = holder(in_db, "王建国")
    reply = as_user("cardoffice").get(statement_url(person_id, "2020-01-01", "2020-12-31"))
    text = pdf_text(reply.data)
    assert "本期无交易" in text and amount_after("期末余额", text) == 0


def test_the_statement_prints_in_chinese_for_an_english_ui(as_user, in_db):
    person_id, _card = holder(in_db, "王建国")
    client = as_user("cardoffice")
    client.post("/language", data={"lang": "en"})
    text = pdf_text(client.get(statement_url(person_id)).data)
    assert "银行圈存" in text and "消费" in text and "Purchase" not in text


@pytest.mark.parametrize(
    ("first", "last", "zh", "en"),
    [
        ("2026-03-02", "2026-03-01", "起始日期 2026-03-02 晚于截止日期 2026-03-01",
         "the first day 2026-03-02 is after the last day 2026-03-01"),
        ("2025-01-01", "2026-01-02", "最长 366 天，所选为 367 天", "at most 366 days, 367 asked"),
        ("2026-02-30", None, "不是 YYYY-MM-DD 格式的日期", "is not a YYYY-MM-DD date"),
    ],
)  # fmt: skip
def test_a_reversed_or_too_long_range_is_refused_in_the_user_s_language(
    as_user, in_db, first, last, zh, en
):
    person_id, _card = holder(in_db, "王建国")
    client = as_user("cardoffice")
    before = counts(in_db)
    reply = client.get(statement_url(person_id, first, last))
    assert reply.status_code == 400 and reply.mimetype == "text/html"
    assert "对账期间无效" in reply.get_data(as_text=True) and zh in reply.get_data(as_text=True)
    client.post("/language", data={"lang": "en"})
    reply = client.get(statement_url(person_id, first, last))
    assert reply.status_code == 400 and en in reply.get_data(as_text=True)
    assert "Invalid statement period" in reply.get_data(as_text=True)
    assert counts(in_db) == before


def test_366_days_are_a_statement(as_user, in_db):
    person_id, _card = holder(in_db, "王建国")
    reply = as_user("cardoffice").get(statement_url(person_id, "2025-01-01", "2026-01-01"))
    assert is_pdf(reply)


def test_someone_without_a_card_account_or_unknown_has_no_statement(as_user, in_db):
    def newcomer() -> int:
        department = db.session.scalar(select(Department).where(Department.code == "CS"))
        person = Person(name="新同学", id_type=IdType.RESIDENT_ID, id_number="110101200801011234",
                        category=PersonCategory.UNDERGRADUATE, department=department)  # fmt: skip
        db.session.add(person)
        db.session.flush()
        return person.id

    client = as_user("cardoffice")
    assert client.get(statement_url(in_db(newcomer))).status_code == 404
    assert client.get(statement_url(999_999)).status_code == 404


@pytest.mark.parametrize(
    ("login", "status"),
    [("cardoffice", 200), ("admin", 200), ("settlement", 403), ("applicant", 403)],
)
def test_only_the_card_office_prints_a_cardholder_s_statement(as_user, in_db, login, status):
    person_id, _card = holder(in_db, "王建国")
    assert as_user(login).get(statement_url(person_id)).status_code == status


def test_the_days_are_campus_days(as_user, in_db):
    """The demo history was made today (campus time): a statement of today holds it, one of
    yesterday does not."""
    person_id, _card = holder(in_db, "王建国")
    client = as_user("cardoffice")
    today = datetime.now(SHANGHAI).date()
    yesterday = (today - timedelta(days=1)).isoformat()
    assert "本期无交易" in pdf_text(client.get(statement_url(person_id, yesterday, yesterday)).data)
    text = pdf_text(client.get(statement_url(person_id, today.isoformat(), None)).data)
    assert "本期无交易" not in text and amount_after("期初余额", text) == 0

"""The merchant and settlement pages: merchants and terminals, weekly settlement runs with their
statements (R11), adjustments (调账, R11) and bank refund batches (R14)."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from app.auth.accounts import find_user
from app.engine import engine_config
from app.extensions import db
from ledger.context import Ctx
from ledger.models.accounts import LedgerAccount
from ledger.models.cards import Card
from ledger.models.journal import EntryKind, JournalEntry
from ledger.models.merchants import Merchant, OpenState, Settlement
from ledger.models.money import Refund, RefundState
from ledger.models.people import Person
from ledger.ops.closing import terminate_card
from workflows import runtime, tasks
from workflows.context import Env
from workflows.models import ProcessInstance
from workflows.timers import fire_instance

WEEK_LATER = timedelta(days=8)


def text_of(reply) -> str:
    return reply.get_data(as_text=True)


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def a_market_purchase() -> JournalEntry:
    """A demo purchase at the commercial shop MARKET."""
    market = db.session.scalar(select(Merchant).where(Merchant.code == "MARKET"))
    return db.session.scalar(
        select(JournalEntry)
        .where(JournalEntry.merchant_id == market.id, JournalEntry.kind == EntryKind.PURCHASE)
        .order_by(JournalEntry.id)
        .limit(1)
    )


def purse_balance(card_id: int) -> int:
    card = db.session.get(Card, card_id)
    return db.session.get(LedgerAccount, card.account.purse_id).balance


# --- reading ------------------------------------------------------------------------------


def test_settlement_centre_sees_merchants_with_their_settlement_facts(as_user):
    page = text_of(as_user("settlement").get("/merchants"))
    assert "CANTEEN1" in page and "第一食堂" in page
    assert "后勤管理处" in page  # supervising department
    assert "管理费 0.50%" in page  # MARKET is commercial


def test_merchant_list_filters_by_category_and_name(as_user):
    client = as_user("settlement")
    canteens = text_of(client.get("/merchants?category=canteen"))
    assert "CANTEEN2" in canteens and "MARKET" not in canteens
    named = text_of(client.get("/merchants?q=超市"))
    assert "MARKET" in named and "CANTEEN1" not in named


def test_merchant_page_lists_terminals_and_recent_purchases(as_user):
    page = text_of(as_user("cardoffice").get("/merchants/CANTEEN1"))
    assert "CANTEEN1-01" in page and "CANTEEN1-04" in page
    assert "POS 机" in page
    assert "近期消费" in page
    assert "/merchants/adjustments/new" not in page  # the card office reads only


def test_unknown_merchant_is_404(as_user):
    assert as_user("settlement").get("/merchants/NOPE").status_code == 404


READS = ["/merchants", "/merchants/CANTEEN1", "/merchants/settlements", "/merchants/refunds"]
WRITES = [
    ("get", "/merchants/settlements/run"),
    ("post", "/merchants/settlements/run"),
    ("get", "/merchants/adjustments/new"),
    ("post", "/merchants/adjustments"),
    ("get", "/merchants/refunds/batch?refund_id=1"),
    ("get", "/merchants/refunds/batch.csv?refund_id=1"),
    ("post", "/merchants/refunds/pay"),
]


@pytest.mark.parametrize("path", READS)
def test_an_applicant_may_not_see_merchant_pages(as_user, path):
    assert as_user("applicant").get(path).status_code == 403


@pytest.mark.parametrize("login", ["applicant", "cardoffice"])
@pytest.mark.parametrize("method, path", WRITES)
def test_only_the_settlement_centre_settles_adjusts_and_pays(as_user, login, method, path):
    assert getattr(as_user(login), method)(path).status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(web):
    reply = web.test_client().get("/merchants")
    assert reply.status_code == 302 and "/login" in reply.headers["Location"]


# --- settlement runs ----------------------------------------------------------------------


def test_r11_nothing_is_due_the_day_merchants_were_admitted(as_user, in_db):
    client = as_user("settlement")
    assert "没有到期需要结算的商户" in text_of(client.get("/merchants/settlements/run"))
    reply = client.post("/merchants/settlements/run", follow_redirects=True)
    assert "没有到期需要结算的商户" in text_of(reply)
    assert in_db(lambda: count(Settlement)) == 0


def test_r11_weekly_run_settles_every_open_merchant_and_posts_the_journal(as_user, in_db):
    with time_machine.travel(datetime.now(UTC) + WEEK_LATER, tick=False):
        client = as_user("settlement")
        preview = text_of(client.get("/merchants/settlements/run"))
        assert "CANTEEN1" in preview and "确认结算" in preview
        reply = client.post("/merchants/settlements/run", follow_redirects=True)
        page = text_of(reply)
    assert "已结算 9 户商户" in page

    def settled():
        market = db.session.scalar(select(Merchant).where(Merchant.code == "MARKET"))
        row = db.session.scalar(select(Settlement).where(Settlement.merchant_id == market.id))
        entries = count(JournalEntry, JournalEntry.kind == EntryKind.SETTLEMENT)
        open_merchants = count(Merchant, Merchant.state == OpenState.ACTIVE)
        amounts = (row.turnover, row.fee, row.payout)
        return count(Settlement), open_merchants, entries, amounts, market.account.balance

    rows, open_merchants, entries, (turnover, fee, payout), market_balance = in_db(settled)
    assert rows == open_merchants == entries == 9
    assert turnover > 0
    assert fee == (turnover * 50 + 5000) // 10000  # 0.5%, rounded half up
    assert payout == turnover - fee
    assert market_balance == 0
    assert "校内超市" in page and f"{payout // 100}.{payout % 100:02d}" in page


def test_r11_statement_page_shows_the_period_and_amounts(as_user, in_db):
    with time_machine.travel(datetime.now(UTC) + WEEK_LATER, tick=False):
        as_user("settlement").post("/merchants/settlements/run")
        settlement_id = in_db(lambda: db.session.scalar(select(func.max(Settlement.id))))
        page = text_of(as_user("cardoffice").get(f"/merchants/settlements/{settlement_id}"))
    assert "结算单" in page and "管理费（元）" in page and "应付（元）" in page
    assert as_user("settlement").get("/merchants/settlements/99999").status_code == 404


def test_a_run_split_across_two_pages_shows_its_whole_totals_on_both(as_user, in_db):
    """Six weekly runs of 9 merchants: 54 statements, 50 a page; the oldest run has 5 rows
    on the first page and 4 on the second, and both say what the whole run paid."""
    for week in range(1, 7):
        with time_machine.travel(datetime.now(UTC) + week * WEEK_LATER, tick=False):
            as_user("settlement").post("/merchants/settlements/run")

    def oldest_run():
        first = db.session.scalar(select(func.min(Settlement.created_at)))
        rows = db.session.execute(
            select(func.count(), func.sum(Settlement.payout), func.sum(Settlement.fee)).where(
                Settlement.created_at == first
            )
        ).one()
        return count(Settlement), tuple(rows)

    total, (statements, payout, fee) = in_db(oldest_run)
    assert (total, statements) == (54, 9)
    yuan = lambda fen: f"{fen // 100}.{fen % 100:02d}"  # noqa: E731
    whole = f"共 9 户，应付合计 {yuan(payout)} 元，管理费合计 {yuan(fee)} 元"
    client = as_user("cardoffice")
    first, second = (text_of(client.get(f"/merchants/settlements?page={n}")) for n in (1, 2))
    assert first.count("共 9 户") == 6 and whole in first and "本页列出其中 5 户" in first
    assert second.count("共 9 户") == 1 and whole in second and "本页列出其中 4 户" in second


# --- adjustments --------------------------------------------------------------------------


def adjustment_form(entry_id, amount, key="adjust-0001", reason="系统重复扣款"):
    return {"entry_id": str(entry_id), "amount": amount, "reason": reason, "request_key": key}


@pytest.mark.parametrize("amount", ["abc", "1.234", "-5", "0", "0.00", ""])
def test_r11_adjustment_with_a_bad_amount_is_refused_and_changes_nothing(as_user, in_db, amount):
    entry_id, card_id = in_db(lambda: (a_market_purchase().id, a_market_purchase().card_id))
    before = in_db(lambda: purse_balance(card_id))
    reply = as_user("settlement").post(
        "/merchants/adjustments", data=adjustment_form(entry_id, amount)
    )
    assert reply.status_code == 422
    page = text_of(reply)
    assert "field-error" in page and "系统重复扣款" in page  # the input is kept
    assert in_db(lambda: count(JournalEntry, JournalEntry.kind == EntryKind.ADJUSTMENT)) == 0
    assert in_db(lambda: purse_balance(card_id)) == before


def test_r11_adjustment_above_the_purchase_is_refused_with_the_maximum(as_user, in_db):
    entry_id, charged = in_db(lambda: (a_market_purchase().id, a_market_purchase().amount))
    too_much = f"{charged // 100 + 1}.00"
    reply = as_user("settlement").post(
        "/merchants/adjustments", data=adjustment_form(entry_id, too_much)
    )
    assert reply.status_code == 422
    assert f"{charged // 100}.{charged % 100:02d}" in text_of(reply)
    assert in_db(lambda: count(JournalEntry, JournalEntry.kind == EntryKind.ADJUSTMENT)) == 0


def test_r11_adjustment_pays_the_holder_back_exactly_to_the_fen_and_once(as_user, in_db):
    entry_id, card_id = in_db(lambda: (a_market_purchase().id, a_market_purchase().card_id))
    before = in_db(lambda: purse_balance(card_id))
    client = as_user("settlement")
    form = client.get(f"/merchants/adjustments/new?entry_id={entry_id}")
    assert form.status_code == 200 and "最多可调" in text_of(form)
    for _ in range(2):  # the same form sent twice posts once
        reply = client.post("/merchants/adjustments", data=adjustment_form(entry_id, "1.05"))
        assert reply.status_code == 302 and reply.headers["Location"].endswith("/merchants/MARKET")

    def adjustments():
        rows = db.session.scalars(
            select(JournalEntry).where(JournalEntry.kind == EntryKind.ADJUSTMENT)
        ).all()
        return [(row.amount, row.corrects_id, row.memo, row.actor) for row in rows]

    assert in_db(adjustments) == [(105, entry_id, "系统重复扣款", "user:settlement")]
    assert in_db(lambda: purse_balance(card_id)) == before + 105
    assert "系统重复扣款" in text_of(client.get("/merchants/MARKET"))


def test_r11_adjustment_of_something_not_a_purchase_is_refused(as_user, in_db):
    top_up = in_db(
        lambda: db.session.scalar(
            select(JournalEntry.id).where(JournalEntry.kind == EntryKind.TOPUP_BANK).limit(1)
        )
    )
    reply = as_user("admin").post("/merchants/adjustments", data=adjustment_form(top_up, "1.00"))
    assert reply.status_code == 404
    assert "未找到消费记录" in text_of(reply)


# --- bank refund batches ------------------------------------------------------------------


def graduate_refunds(in_db, names) -> list[int]:
    """End the cards of `names` as graduated: each leaves a pending bank refund (R14)."""

    def terminate():
        ctx = Ctx(db.session, "test", datetime.now(UTC))
        ids = []
        for name in names:
            card_no = db.session.scalar(
                select(Card.card_no).join(Person).where(Person.name == name)
            )
            ids.append(terminate_card(ctx, card_no, "graduated")["refund_id"])
        return ids

    return in_db(terminate)


def refund_states(in_db, ids) -> list[str]:
    return in_db(lambda: [db.session.get(Refund, i).state.value for i in ids])


def test_r14_pending_bank_refunds_are_listed_with_masked_id_numbers(as_user, in_db):
    graduate_refunds(in_db, ["吴俊杰"])
    page = text_of(as_user("settlement").get("/merchants/refunds"))
    assert "吴俊杰" in page and "毕业" in page
    assert "4401**********0813" in page and "440106200112070813" not in page


def test_r14_batch_review_shows_count_total_and_exports_csv(as_user, in_db):
    first, second = graduate_refunds(in_db, ["吴俊杰", "孙浩然"])
    client = as_user("settlement")
    review = text_of(client.get(f"/merchants/refunds/batch?refund_id={first}&refund_id={second}"))
    assert "本批次 2 笔" in review
    csv = client.get(f"/merchants/refunds/batch.csv?refund_id={first}")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    body = text_of(csv)
    assert "吴俊杰" in body and "孙浩然" not in body and "1 笔" in body


def test_r14_paying_a_batch_pays_exactly_the_chosen_refunds(as_user, in_db):
    first, second = graduate_refunds(in_db, ["吴俊杰", "孙浩然"])
    reply = as_user("settlement").post("/merchants/refunds/pay", data={"refund_id": [first]})
    assert reply.status_code == 302
    assert refund_states(in_db, [first, second]) == ["paid", "pending"]
    paid_out = in_db(lambda: count(JournalEntry, JournalEntry.kind == EntryKind.REFUND_PAYOUT))
    assert paid_out == 1


def test_r14_a_batch_with_a_refund_paid_already_pays_none(as_user, in_db):
    first, second = graduate_refunds(in_db, ["吴俊杰", "孙浩然"])
    client = as_user("settlement")
    client.post("/merchants/refunds/pay", data={"refund_id": [first]})
    reply = client.post(
        "/merchants/refunds/pay", data={"refund_id": [first, second]}, follow_redirects=True
    )
    assert "已支付" in text_of(reply) and "未支付任何一笔" in text_of(reply)
    assert refund_states(in_db, [first, second]) == ["paid", "pending"]


def test_r14_an_empty_batch_is_refused(as_user):
    reply = as_user("settlement").post("/merchants/refunds/pay", follow_redirects=True)
    assert "请至少选择一笔退款" in text_of(reply)


def test_r14_a_pending_refund_stays_pending_for_the_card_office(as_user, in_db):
    (refund_id,) = graduate_refunds(in_db, ["吴俊杰"])
    assert (
        as_user("cardoffice")
        .post("/merchants/refunds/pay", data={"refund_id": [refund_id]})
        .status_code
        == 403
    )
    assert refund_states(in_db, [refund_id]) == [RefundState.PENDING.value]


def terminate_demo_roster(in_db) -> int:
    """Carry the demo termination DEMO-QZZZ-1 (周雨桐, graduated) through the IT centre's review
    and the worker's termination: its bank refund waits in the request's own batch."""

    def run():
        instance = db.session.scalar(
            select(ProcessInstance).where(ProcessInstance.business_key == "DEMO-QZZZ-1")
        )
        (review,) = runtime.open_tasks(db.session, instance.id)
        itcenter = find_user(db.session, "itcenter")
        now = datetime.now(UTC)
        tasks.complete(Env(db.session, itcenter, now, engine_config()), review.id,
                       {"decision": "approve"})  # fmt: skip
        fire_instance(
            Env(db.session, None, now + timedelta(seconds=1), engine_config()), instance.id
        )
        return db.session.scalar(select(Refund.id).where(Refund.state == RefundState.PENDING))

    return in_db(run)


def test_r14_a_termination_request_s_own_batch_is_confirmed_in_its_task_not_here(as_user, in_db):
    refund_id = terminate_demo_roster(in_db)
    client = as_user("settlement")
    page = text_of(client.get("/merchants/refunds"))
    assert "周雨桐" in page and "DEMO-QZZZ-1" in page
    assert f'name="refund_id" value="{refund_id}"' not in page
    reply = client.post(
        "/merchants/refunds/pay", data={"refund_id": [refund_id]}, follow_redirects=True
    )
    assert "属于强制终止申请 DEMO-QZZZ-1" in text_of(reply)
    assert refund_states(in_db, [refund_id]) == ["pending"]


def test_r14_a_refund_of_a_holder_without_a_bank_card_is_not_paid_by_bank(as_user, in_db):
    (refund_id,) = graduate_refunds(in_db, ["吴俊杰"])

    def unbind():
        card = db.session.get(Card, db.session.get(Refund, refund_id).card_id)
        card.account.bank_card_no = None

    in_db(unbind)
    client = as_user("settlement")
    assert f'name="refund_id" value="{refund_id}"' not in text_of(client.get("/merchants/refunds"))
    reply = client.post(
        "/merchants/refunds/pay", data={"refund_id": [refund_id]}, follow_redirects=True
    )
    assert "未登记银行卡" in text_of(reply)
    assert refund_states(in_db, [refund_id]) == ["pending"]

"""The API's merchant endpoints with personal API tokens: merchants, their settlements and a
settlement's statement with its adjustments, and the weekly settlement run (R11) under an
Idempotency-Key whose replay settles nothing again; who may call each (401, 403)."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from app.extensions import db
from ledger.context import Ctx
from ledger.models.journal import EntryKind, JournalEntry
from ledger.models.merchants import Merchant, Settlement
from ledger.ops.settlement import post_adjustment
from tests.web.api_support import PROBLEM, assert_role_check
from tests.web.counter_support import holder

WEEK_LATER = timedelta(days=8)
LOGINS = [
    "applicant", "logistics", "approver", "cardoffice", "settlement",
    "supervisor", "itcenter", "hr", "registrar", "admin",
]  # fmt: skip
READERS = {"settlement", "cardoffice", "admin"}
#: Every endpoint of this part of the API and who may call it.
ENDPOINTS = [
    ("get", "/api/v1/merchants", READERS),
    ("get", "/api/v1/merchants/CANTEEN1/settlements", READERS),
    ("get", "/api/v1/settlements/1", READERS),
    ("post", "/api/v1/settlement-runs", {"settlement", "admin"}),
]


def later():
    """A week and a day after the demo merchants were admitted: every one is due (R11)."""
    return time_machine.travel(datetime.now(UTC) + WEEK_LATER, tick=False)


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def settled(in_db) -> tuple[int, int]:
    """(settlements, settlement journal entries) in the ledger."""
    entries = JournalEntry.kind == EntryKind.SETTLEMENT
    return in_db(lambda: (count(Settlement), count(JournalEntry, entries)))


def merchant_balance(in_db, code: str) -> int:
    query = select(Merchant).where(Merchant.code == code)
    return in_db(lambda: db.session.scalar(query).account.balance)


# --- who may call -------------------------------------------------------------------------


@pytest.mark.parametrize("method, path, _callers", ENDPOINTS)
def test_without_a_token_every_endpoint_answers_401(api_as, method, path, _callers):
    reply = getattr(api_as(None), method)(path, key="no-token-1")
    assert reply.status_code == 401 and reply.mimetype == PROBLEM


@pytest.mark.parametrize("login", LOGINS)
def test_r11_the_settlement_centre_runs_settlements_and_the_card_office_reads_them(api_as, login):
    client = api_as(login, "en")
    for method, path, callers in ENDPOINTS:
        reply = getattr(client, method)(path, key="matrix-key-1")
        assert_role_check(reply, login in callers, (method, path))


# --- merchants ----------------------------------------------------------------------------


def test_merchants_are_listed_by_code_with_their_settlement_terms(api_as):
    found = {m["code"]: m for m in api_as("cardoffice").get("/api/v1/merchants").json}
    assert len(found) == 9 and list(found) == sorted(found)
    assert found["MARKET"] == found["MARKET"] | {
        "name": "校内超市", "category": "shop", "commercial": True, "fee_rate_bp": 50,
        "settlement_days": 7, "state": "active", "supervising_department": "后勤管理处",
    }  # fmt: skip
    english = api_as("settlement", "en").get("/api/v1/merchants?q=MARKET").json
    assert [m["supervising_department"] for m in english] == ["Logistics Office"]


def test_merchants_narrow_by_category_and_name(api_as):
    client = api_as("settlement")
    canteens = [m["code"] for m in client.get("/api/v1/merchants?category=canteen").json]
    assert canteens == ["CANTEEN1", "CANTEEN2", "CANTEEN3"]
    assert [m["code"] for m in client.get("/api/v1/merchants?q=超市").json] == ["MARKET"]


@pytest.mark.parametrize("query", ["category=casino", "state=open", "limit=0"])
def test_a_bad_merchant_query_is_a_422_problem(api_as, query):
    path = "/api/v1/merchants/MARKET/settlements" if "limit" in query else "/api/v1/merchants"
    reply = api_as("settlement").get(f"{path}?{query}")
    assert reply.status_code == 422 and reply.mimetype == PROBLEM


@pytest.mark.parametrize("path", ["/merchants/NOPE/settlements", "/settlements/99999"])
def test_an_unknown_merchant_or_settlement_is_a_404_problem(api_as, path):
    reply = api_as("settlement", "en").get(f"/api/v1{path}")
    assert reply.status_code == 404 and reply.mimetype == PROBLEM
    assert reply.json["detail"].startswith("No ")


# --- settlement runs ----------------------------------------------------------------------


def test_r11_nothing_is_due_the_day_merchants_were_admitted(api_as, in_db):
    reply = api_as("settlement").post("/api/v1/settlement-runs", key="run-today-1")
    assert reply.status_code == 201 and reply.json == {"settlements": []}
    assert settled(in_db) == (0, 0)


def test_r11_a_weekly_run_settles_every_open_merchant_with_the_fee(api_as, in_db):
    with later():
        reply = api_as("settlement").post("/api/v1/settlement-runs", key="run-week-1")
    assert reply.status_code == 201
    found = {row["merchant"]: row for row in reply.json["settlements"]}
    assert len(found) == 9 and settled(in_db) == (9, 9)
    market = found["MARKET"]
    assert market["turnover"] > 0 and market["adjustments"] == 0
    assert market["fee"] == (market["turnover"] * 50 + 5000) // 10000  # 0.5%, half up
    assert market["payout"] == market["turnover"] - market["fee"]
    assert found["CANTEEN1"]["fee"] == 0  # not commercial
    assert merchant_balance(in_db, "MARKET") == 0


def test_r11_a_replayed_run_answers_the_first_statements_and_settles_once(api_as, in_db):
    with later():
        client = api_as("settlement")
        first, second = (client.post("/api/v1/settlement-runs", key="run-retry-1") for _ in "12")
    assert first.status_code == second.status_code == 201
    assert first.json == second.json and len(first.json["settlements"]) == 9
    assert settled(in_db) == (9, 9)


def test_r11_a_runs_key_used_for_a_top_up_is_a_422_conflict(api_as, in_db):
    _person, card_no = holder(in_db, "孙浩然")
    client = api_as("settlement", "en")
    body = {"card_no": card_no, "amount": 100, "method": "bank", "reference": "BOC-1"}
    assert client.post("/api/v1/top-ups", json=body, key="shared-key-1").status_code == 201
    with later():
        reply = api_as("settlement", "en").post("/api/v1/settlement-runs", key="shared-key-1")
    assert reply.status_code == 422 and reply.json["code"] == "idempotency_conflict"
    assert settled(in_db) == (0, 0)


def test_a_run_without_an_idempotency_key_is_a_400_problem_and_settles_nothing(api_as, in_db):
    with later():
        reply = api_as("settlement", "en").post("/api/v1/settlement-runs")
    assert reply.status_code == 400 and reply.mimetype == PROBLEM
    assert reply.json["code"] == "idempotency_key_missing"
    assert settled(in_db) == (0, 0)


# --- settlements and statements -----------------------------------------------------------


def adjust_a_market_purchase(in_db, amount: int, reason: str) -> int:
    """R11: an adjustment of the first demo purchase at MARKET; the purchase's entry id."""

    def adjust():
        market = db.session.scalar(select(Merchant).where(Merchant.code == "MARKET"))
        entry_id = db.session.scalar(
            select(func.min(JournalEntry.id)).where(
                JournalEntry.merchant_id == market.id, JournalEntry.kind == EntryKind.PURCHASE
            )
        )
        ctx = Ctx(session=db.session, actor="user:settlement", now=datetime.now(UTC))
        post_adjustment(ctx, entry_id, amount, reason)
        return entry_id

    return in_db(adjust)


def test_r11_a_statement_lists_the_periods_adjustments_with_who_and_why(api_as, in_db):
    purchase_id = adjust_a_market_purchase(in_db, 105, "系统重复扣款")
    with later():
        api_as("settlement").post("/api/v1/settlement-runs", key="run-statement-1")
        client = api_as("cardoffice", "en")
        (row,) = client.get("/api/v1/merchants/MARKET/settlements").json
        found = client.get(f"/api/v1/settlements/{row['id']}").json
    assert row["merchant"] == "MARKET" and row["adjustments"] == 105
    assert found["id"] == row["id"] and found["merchant_code"] == "MARKET"
    assert (found["period_start"], found["period_end"]) == (row["period_start"], row["period_end"])
    assert found["net_turnover"] == found["turnover"] - 105 and found["purchases"] > 0
    assert found["fee"] == (found["net_turnover"] * 50 + 5000) // 10000
    (line,) = found["adjustment_lines"]
    assert line == line | {"corrects_id": purchase_id, "amount": 105, "reason": "系统重复扣款"}
    assert line["who"] == "结算中心会计 (settlement)"  # the clerk by name, in English

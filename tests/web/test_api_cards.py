"""The API's card endpoints with personal API tokens: finding cardholders, a card's facts,
loss and unfreeze at the counter (R13, R15), statements, and the bank's and WeChat's top-up
notifications (R09) with their Idempotency-Key; who may call each (401, 403)."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from ledger.context import Ctx
from ledger.models.journal import EntryKind, JournalEntry
from ledger.ops.metering import pre_deduct
from ledger.ops.reissue import reissue_card
from ledger.queries import card_account_of
from tests.web.api_support import PROBLEM, assert_role_check
from tests.web.counter_support import balance, card_state, holder

STUDENT = "孙浩然"  # an undergraduate of the demo, with a bank card bound (R09)
LOGINS = [
    "applicant", "logistics", "approver", "cardoffice", "settlement",
    "supervisor", "itcenter", "hr", "registrar", "admin",
]  # fmt: skip
#: Every endpoint of this part of the API, {card} the student's card, and who may call it.
ENDPOINTS = [
    ("get", "/api/v1/cardholders?q=孙浩然", {"cardoffice", "admin"}),
    ("get", "/api/v1/cards/{card}", {"cardoffice", "settlement", "admin"}),
    ("post", "/api/v1/cards/{card}/loss", {"cardoffice", "admin"}),
    ("post", "/api/v1/cards/{card}/unfreeze", {"cardoffice", "admin"}),
    ("get", "/api/v1/cards/{card}/statement", {"cardoffice", "admin"}),
    ("post", "/api/v1/top-ups", {"settlement", "admin"}),
]


def notice(card_no: str, amount=1000, method="bank", reference="BOC-20261128-0001") -> dict:
    """A top-up notification's body."""
    return {"card_no": card_no, "amount": amount, "method": method, "reference": reference}


def call(client, method: str, path: str, card_no: str):
    """Call an endpoint of ENDPOINTS as a well-formed request would."""
    body = {"json": notice(card_no), "key": "matrix-key-1"} if path.endswith("top-ups") else {}
    return getattr(client, method)(path.format(card=card_no), **body)


def transitional(in_db, person_id: int) -> int:
    return in_db(lambda: card_account_of(db.session, person_id).transitional.balance)


def as_settlement_ctx(now: datetime | None = None) -> Ctx:
    return Ctx(session=db.session, actor="user:settlement", now=now or datetime.now(UTC))


# --- who may call -------------------------------------------------------------------------


@pytest.mark.parametrize("method, path, _callers", ENDPOINTS)
def test_without_a_token_every_endpoint_answers_401(api_as, in_db, method, path, _callers):
    _person, card_no = holder(in_db, STUDENT)
    reply = call(api_as(None), method, path, card_no)
    assert reply.status_code == 401 and reply.mimetype == PROBLEM


@pytest.mark.parametrize("login", LOGINS)
def test_only_the_card_office_the_settlement_centre_and_admins_call_as_their_roles_allow(
    api_as, in_db, login
):
    _person, card_no = holder(in_db, STUDENT)
    client = api_as(login, "en")
    for method, path, callers in ENDPOINTS:
        reply = call(client, method, path, card_no)
        assert_role_check(reply, login in callers, (method, path))


# --- cardholders and cards ----------------------------------------------------------------


def test_cardholders_are_found_by_name_card_number_and_id_number_with_whole_ids(api_as, in_db):
    person_id, card_no = holder(in_db, STUDENT)
    client = api_as("cardoffice")
    for query in (STUDENT, card_no[:6], "150035"):
        (found,) = client.get(f"/api/v1/cardholders?q={query}").json
        assert found["person_id"] == person_id and found["id_number"] == "510104200403150035"
        assert found["category"] == "undergraduate" and found["department"] == "信息科学与工程学院"
        (card,) = found["cards"]
        assert card == card | {"card_no": card_no, "card_type": "student", "state": "active"}
    english = api_as("admin", "en").get(f"/api/v1/cardholders?q={STUDENT}").json
    assert english[0]["department"] == "College of Information Science and Engineering"
    assert client.get("/api/v1/cardholders?q=nobody-at-all").json == []


@pytest.mark.parametrize("query", ["", "q=", "q=王&limit=0", "q=王&limit=51", "q=王&limit=x"])
def test_a_bad_cardholder_search_is_a_422_problem(api_as, query):
    reply = api_as("cardoffice").get(f"/api/v1/cardholders?{query}")
    assert reply.status_code == 422 and reply.mimetype == PROBLEM


def test_a_card_shows_its_holder_balances_limit_and_masked_bank_card(api_as, in_db):
    person_id, card_no = holder(in_db, STUDENT)
    found = api_as("settlement").get(f"/api/v1/cards/{card_no}").json
    spent = in_db(lambda: card_account_of(db.session, person_id).spent_today)
    assert found == found | {
        "card_no": card_no, "card_type": "student", "state": "active", "expires_on": None,
        "holder_name": STUDENT, "person_id": person_id, "balance": balance(in_db, person_id),
        "transitional": 0, "daily_limit": 5000, "spent_today": spent, "hold": None,
    }  # fmt: skip
    bank_card = found["bank_card"]
    assert len(bank_card) == 19 and bank_card.startswith("6216") and "*" * 11 in bank_card


def test_r10_a_card_shows_its_open_pre_deduction(api_as, in_db):
    _person, card_no = holder(in_db, STUDENT)
    in_db(lambda: pre_deduct(as_settlement_ctx(), card_no, "WATER-01", 300))
    hold = api_as("cardoffice").get(f"/api/v1/cards/{card_no}").json["hold"]
    assert hold["amount"] == 300 and hold["terminal"] == "WATER-01" and hold["opened_at"]


@pytest.mark.parametrize("path", ["/cards/0000000", "/cards/0000000/statement"])
def test_an_unknown_card_is_a_404_problem_in_the_callers_language(api_as, path):
    reply = api_as("cardoffice", "en").get(f"/api/v1{path}")
    assert reply.status_code == 404 and reply.mimetype == PROBLEM
    assert reply.json["code"] == "not_found" and reply.json["detail"] == "No card found: 0000000"


# --- loss and unfreeze --------------------------------------------------------------------


def test_r13_loss_and_unfreeze_at_the_counter(api_as, in_db):
    _person, card_no = holder(in_db, STUDENT)
    client = api_as("cardoffice")
    lost = client.post(f"/api/v1/cards/{card_no}/loss")
    assert lost.status_code == 200 and lost.json == {"card_no": card_no, "state": "lost"}
    assert card_state(in_db, card_no) == "lost"
    found = client.post(f"/api/v1/cards/{card_no}/unfreeze")
    assert found.json == {"card_no": card_no, "state": "active"}
    assert card_state(in_db, card_no) == "active"


def test_r13_a_lost_card_is_not_lost_twice_nor_an_active_one_unfrozen(api_as, in_db):
    _person, card_no = holder(in_db, STUDENT)
    client = api_as("cardoffice", "en")
    unfrozen = client.post(f"/api/v1/cards/{card_no}/unfreeze")
    assert unfrozen.status_code == 409 and unfrozen.json["code"] == "transition_not_allowed"
    assert client.post(f"/api/v1/cards/{card_no}/loss").status_code == 200
    again = client.post(f"/api/v1/cards/{card_no}/loss")
    assert again.status_code == 409 and again.mimetype == PROBLEM
    assert again.json["detail"] == f"Card {card_no} cannot go from lost to lost"


def test_r15_a_card_replaced_by_a_reissue_is_never_unfrozen(api_as, in_db):
    _person, card_no = holder(in_db, STUDENT)
    client = api_as("cardoffice", "en")
    assert client.post(f"/api/v1/cards/{card_no}/loss").status_code == 200
    in_db(lambda: reissue_card(as_settlement_ctx(), card_no))
    reply = client.post(f"/api/v1/cards/{card_no}/unfreeze")
    assert reply.status_code == 409 and reply.json["code"] == "transition_not_allowed"
    assert "replaced" in reply.json["detail"]
    assert card_state(in_db, card_no) == "replaced"


def test_loss_of_an_unknown_card_is_a_404_problem(api_as):
    assert api_as("cardoffice").post("/api/v1/cards/0000000/loss").status_code == 404


# --- statements ---------------------------------------------------------------------------


def test_statement_lists_the_last_30_days_with_balances_after_each_entry(api_as, in_db):
    person_id, card_no = holder(in_db, STUDENT)
    found = api_as("cardoffice", "en").get(f"/api/v1/cards/{card_no}/statement").json
    today = date.fromisoformat(found["last"])
    assert date.fromisoformat(found["first"]) == today - timedelta(days=29)
    assert found["name"] == STUDENT and found["cards"] == [card_no]
    assert found["opening"] == {"purse": 0, "transitional": 0, "total": 0}
    kinds = [line["kind"] for line in found["lines"]]
    assert kinds == ["topup_bank", "purchase", "purchase", "purchase"]
    assert found["lines"][0]["label"] != "银行圈存" and found["lines"][0]["amount_in"] == 32000
    assert found["closing"]["purse"] == found["lines"][-1]["after"]["purse"]
    assert found["closing"]["purse"] == balance(in_db, person_id)
    assert found["total_in"] - found["total_out"] == found["closing"]["total"]


def test_r09_statement_shows_the_transitional_balance_apart(api_as, in_db):
    _person, card_no = holder(in_db, STUDENT)
    wechat = notice(card_no, 800, "wechat")
    assert (
        api_as("settlement").post("/api/v1/top-ups", json=wechat, key="wx-000001").status_code
        == 201
    )
    found = api_as("cardoffice").get(f"/api/v1/cards/{card_no}/statement").json
    assert found["with_transitional"] and found["closing"]["transitional"] == 800
    assert found["lines"][-1]["kind"] == "topup_wechat"
    assert found["lines"][-1]["after"]["transitional"] == 800


def test_statement_over_a_range_before_the_card_is_empty(api_as, in_db):
    _person, card_no = holder(in_db, STUDENT)
    path = f"/api/v1/cards/{card_no}/statement?from=2020-01-01&to=2020-01-31"
    found = api_as("cardoffice").get(path).json
    assert found["lines"] == [] and found["closing"]["total"] == 0
    assert (found["first"], found["last"]) == ("2020-01-01", "2020-01-31")


@pytest.mark.parametrize(
    "query, detail",
    [
        ("from=2026-13-01", "Invalid statement period: from “2026-13-01” is not a YYYY-MM-DD date"),
        ("from=2026-03-02&to=2026-03-01", "the first day 2026-03-02 is after the last day"),
        ("from=2024-01-01&to=2025-12-31", "at most 366 days, 731 asked for"),
    ],
)
def test_a_bad_statement_range_is_a_422_problem_in_the_callers_language(
    api_as, in_db, query, detail
):
    _person, card_no = holder(in_db, STUDENT)
    reply = api_as("cardoffice", "en").get(f"/api/v1/cards/{card_no}/statement?{query}")
    assert reply.status_code == 422 and reply.mimetype == PROBLEM
    assert reply.json["code"] == "invalid_statement_period" and detail in reply.json["detail"]


# --- top-ups ------------------------------------------------------------------------------


def test_r09_a_bank_top_up_goes_to_the_purse(api_as, in_db):
    person_id, card_no = holder(in_db, STUDENT)
    before = balance(in_db, person_id)
    reply = api_as("settlement").post("/api/v1/top-ups", json=notice(card_no), key="bank-0001")
    assert reply.status_code == 201
    assert reply.json == reply.json | {
        "card_no": card_no, "amount": 1000, "method": "bank",
        "reference": "BOC-20261128-0001", "balance": before + 1000, "transitional": 0,
    }  # fmt: skip
    assert balance(in_db, person_id) == before + 1000


def test_r09_a_wechat_top_up_lands_in_the_transitional_balance(api_as, in_db):
    person_id, card_no = holder(in_db, STUDENT)
    before = balance(in_db, person_id)
    body = notice(card_no, 2500, "wechat", "wx-4200001")
    reply = api_as("admin").post("/api/v1/top-ups", json=body, key="wechat-0001")
    assert reply.status_code == 201 and reply.json["transitional"] == 2500
    assert balance(in_db, person_id) == before and transitional(in_db, person_id) == 2500


def top_up_entries(in_db) -> int:
    kinds = (EntryKind.TOPUP_BANK, EntryKind.TOPUP_WECHAT)
    query = select(func.count()).select_from(JournalEntry).where(JournalEntry.kind.in_(kinds))
    return in_db(lambda: db.session.scalar(query))


def test_r09_a_replayed_top_up_answers_the_first_result_and_moves_money_once(api_as, in_db):
    person_id, card_no = holder(in_db, STUDENT)
    before, entries = balance(in_db, person_id), top_up_entries(in_db)
    client = api_as("settlement")
    first, second = (
        client.post("/api/v1/top-ups", json=notice(card_no), key="retry-0001") for _ in range(2)
    )
    assert first.status_code == second.status_code == 201 and first.json == second.json
    assert balance(in_db, person_id) == before + 1000
    assert top_up_entries(in_db) == entries + 1


def test_r09_the_same_notice_under_another_key_credits_once(api_as, in_db):
    person_id, card_no = holder(in_db, STUDENT)
    before, entries = balance(in_db, person_id), top_up_entries(in_db)
    client = api_as("settlement")
    first = client.post("/api/v1/top-ups", json=notice(card_no), key="resent-0001")
    again = client.post("/api/v1/top-ups", json=notice(card_no), key="resent-0002")
    assert first.status_code == again.status_code == 201 and first.json == again.json
    assert balance(in_db, person_id) == before + 1000
    assert top_up_entries(in_db) == entries + 1


@pytest.mark.parametrize("change", [{"amount": 2000}, {"card_no": "other"}])
def test_r09_a_reference_credited_is_not_used_for_another_top_up(api_as, in_db, change):
    person_id, card_no = holder(in_db, STUDENT)
    other_id, other_card = holder(in_db, "王建国")
    change = change | ({"card_no": other_card} if "card_no" in change else {})
    before, other_before = balance(in_db, person_id), balance(in_db, other_id)
    client = api_as("settlement", "en")
    assert client.post("/api/v1/top-ups", json=notice(card_no), key="refer-0001").status_code == 201
    reply = client.post("/api/v1/top-ups", json=notice(card_no) | change, key="refer-0002")
    assert reply.status_code == 422 and reply.json["code"] == "reference_used"
    assert "BOC-20261128-0001" in reply.json["detail"]
    assert balance(in_db, person_id) == before + 1000 and balance(in_db, other_id) == other_before


@pytest.mark.parametrize(
    "change", [{"amount": 2000}, {"reference": "BOC-20261128-0002"}, {"method": "wechat"}]
)
def test_r09_the_same_key_with_another_notice_is_a_422_conflict(api_as, in_db, change):
    person_id, card_no = holder(in_db, STUDENT)
    before = balance(in_db, person_id)
    client = api_as("settlement", "en")
    assert client.post("/api/v1/top-ups", json=notice(card_no), key="twice-0001").status_code == 201
    reply = client.post("/api/v1/top-ups", json=notice(card_no) | change, key="twice-0001")
    assert reply.status_code == 422 and reply.json["code"] == "idempotency_conflict"
    assert "was already used for a different request" in reply.json["detail"]
    assert balance(in_db, person_id) + transitional(in_db, person_id) == before + 1000


def test_a_top_up_without_an_idempotency_key_is_a_400_problem(api_as, in_db):
    person_id, card_no = holder(in_db, STUDENT)
    before = balance(in_db, person_id)
    reply = api_as("settlement", "en").post("/api/v1/top-ups", json=notice(card_no))
    assert reply.status_code == 400 and reply.mimetype == PROBLEM
    assert reply.json["code"] == "idempotency_key_missing"
    assert reply.json["detail"].startswith("A call that moves money needs an Idempotency-Key")
    assert balance(in_db, person_id) == before


@pytest.mark.parametrize(
    "change",
    [
        {"amount": 0}, {"amount": -500}, {"amount": "1000"}, {"amount": 10.5},
        {"amount": None}, {"method": "cash"}, {"reference": ""}, {"card_no": ""},
    ],
)  # fmt: skip
def test_a_bad_top_up_is_a_422_problem_and_moves_nothing(api_as, in_db, change):
    person_id, card_no = holder(in_db, STUDENT)
    before = balance(in_db, person_id)
    reply = api_as("settlement").post(
        "/api/v1/top-ups", json=notice(card_no) | change, key="bad-input-1"
    )
    assert reply.status_code == 422 and reply.mimetype == PROBLEM
    assert balance(in_db, person_id) == before


def test_a_top_up_above_the_single_operation_maximum_is_refused(api_as, in_db):
    person_id, card_no = holder(in_db, STUDENT)
    before = balance(in_db, person_id)
    body = notice(card_no, 1_000_001)
    reply = api_as("settlement", "en").post("/api/v1/top-ups", json=body, key="too-much-01")
    assert reply.status_code == 422 and reply.json["code"] == "invalid_amount"
    assert "10000.00 yuan" in reply.json["detail"]
    assert balance(in_db, person_id) == before


def test_a_refused_top_up_leaves_its_key_free_for_the_corrected_retry(api_as, in_db):
    person_id, card_no = holder(in_db, STUDENT)
    before = balance(in_db, person_id)
    client = api_as("settlement")
    wrong = client.post("/api/v1/top-ups", json=notice("0000000"), key="fixed-0001")
    assert wrong.status_code == 404
    assert client.post("/api/v1/top-ups", json=notice(card_no), key="fixed-0001").status_code == 201
    assert balance(in_db, person_id) == before + 1000

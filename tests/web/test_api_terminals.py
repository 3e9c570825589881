"""The API of POS terminals and metering controllers with device keys: a key works only for
its own terminal at its registered place (R23), every money-moving call needs an
Idempotency-Key (a replay returns the first answer and moves nothing), and purchases,
pre-deductions and claims follow the ledger's rules (R07-R11)."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from app.extensions import db
from ledger.context import Ctx
from ledger.models.cards import Card
from ledger.models.journal import EntryKind, JournalEntry
from ledger.models.people import Person
from ledger.ops.merchants import move_terminal
from ledger.ops.money import TopUpMethod, top_up
from tests.web.api_support import DeviceClient

PROBLEM = "application/problem+json"
PURCHASES = "/api/v1/terminal/purchases"
STUDENT = "孙浩然"


def card_of(in_db, name: str = STUDENT) -> str:
    query = select(Card.card_no).join(Person).where(Person.name == name, Card.state == "active")
    return in_db(lambda: db.session.scalar(query))


def balance_of(in_db, card_no: str) -> int:
    query = select(Card).where(Card.card_no == card_no)
    return in_db(lambda: db.session.scalar(query).account.purse.balance)


def purchases(in_db) -> int:
    query = select(func.count()).where(JournalEntry.kind == EntryKind.PURCHASE)
    return in_db(lambda: db.session.scalar(query.select_from(JournalEntry)))


def test_r23_a_terminal_buys_with_its_key_at_its_place(device_as, in_db):
    pos, card = device_as(terminal="CANTEEN1-01"), card_of(in_db)
    before = balance_of(in_db, card)
    reply = pos.send(PURCHASES, {"card_no": card, "amount": 300}, key="meal-000001")
    assert reply.status_code == 201, reply.json
    assert reply.json["balance"] == before - 300 == balance_of(in_db, card)
    assert reply.json["merchant"] == "CANTEEN1"


def test_r23_a_key_stated_elsewhere_is_refused_and_nothing_moves(device_as, in_db):
    pos, card = device_as(terminal="CANTEEN1-01"), card_of(in_db)
    before, count = balance_of(in_db, card), purchases(in_db)
    body = {"card_no": card, "amount": 300, "location": "第三食堂"}
    reply = pos.send(PURCHASES, body, key="meal-000002")
    assert reply.status_code == 403 and reply.mimetype == PROBLEM
    assert reply.json["code"] == "device_elsewhere" and "第三食堂" in reply.json["detail"]
    assert (balance_of(in_db, card), purchases(in_db)) == (before, count)


def test_r23_a_terminal_moved_needs_a_new_key(web, device_as, in_db):
    pos, card = device_as(terminal="CANTEEN1-02"), card_of(in_db)
    in_db(lambda: move_terminal(ctx_of(), "CANTEEN1-02", "第一食堂二层"))
    pos.location = "第一食堂二层"
    reply = pos.send(PURCHASES, {"card_no": card, "amount": 300}, key="meal-000003")
    assert reply.status_code == 403 and reply.json["code"] == "device_elsewhere"
    moved = device_as(terminal="CANTEEN1-02")
    assert moved.location == "第一食堂二层"
    at_the_old_place = {"card_no": card, "amount": 300, "location": "第一食堂"}
    assert moved.send(PURCHASES, at_the_old_place, key="meal-00003b").status_code == 403
    reply = moved.send(PURCHASES, {"card_no": card, "amount": 300}, key="meal-000004")
    assert reply.status_code == 201


def test_r23_a_new_key_revokes_the_old_one(web, device_as, in_db):
    old = device_as(terminal="CANTEEN1-03")
    device_as(terminal="CANTEEN1-03")
    reply = old.send(PURCHASES, {"card_no": card_of(in_db), "amount": 300}, key="meal-000005")
    assert reply.status_code == 401 and reply.mimetype == PROBLEM


@pytest.mark.parametrize("caller", ["none", "person", "kiosk"])
def test_only_a_terminals_key_may_buy(web, api_as, device_as, in_db, caller):
    body = {"card_no": card_of(in_db), "amount": 300, "location": "第一食堂"}
    if caller == "kiosk":
        kiosk = device_as(kiosk="K01")  # a kiosk at 第一食堂, the same place
        reply = kiosk.send(PURCHASES, body, key="meal-000006")
        assert reply.status_code == 403
        return
    client = api_as("admin" if caller == "person" else None)
    reply = client.post(PURCHASES, json=body, key="meal-000006")
    assert reply.status_code == 401 and reply.json["code"] == "unauthorized"


def test_a_purchase_without_an_idempotency_key_is_refused_in_the_callers_language(device_as, in_db):
    pos, card = device_as(terminal="CANTEEN1-01", language="en"), card_of(in_db)
    before = balance_of(in_db, card)
    reply = pos.send(PURCHASES, {"card_no": card, "amount": 300})
    assert reply.status_code == 400 and reply.json["code"] == "idempotency_key_missing"
    assert "Idempotency-Key" in reply.json["detail"] and reply.headers["Content-Language"] == "en"
    short = pos.send(PURCHASES, {"card_no": card, "amount": 300}, key="short")
    assert short.status_code == 422 and short.json["code"] == "idempotency_key_invalid"
    assert balance_of(in_db, card) == before


def test_a_key_of_64_characters_is_taken_after_the_terminals_code(device_as, in_db):
    pos, card = device_as(terminal="CANTEEN1-01"), card_of(in_db)
    reply = pos.send(PURCHASES, {"card_no": card, "amount": 300}, key="k" * 64)
    assert reply.status_code == 201, reply.json
    too_long = pos.send(PURCHASES, {"card_no": card, "amount": 300}, key="k" * 65)
    assert too_long.status_code == 422 and too_long.json["code"] == "idempotency_key_invalid"


def test_a_replay_returns_the_first_answer_and_charges_once(device_as, in_db):
    pos, card = device_as(terminal="MARKET-01"), card_of(in_db)
    before, count = balance_of(in_db, card), purchases(in_db)
    first = pos.send(PURCHASES, {"card_no": card, "amount": 450}, key="retry-me-01")
    again = pos.send(PURCHASES, {"card_no": card, "amount": 450}, key="retry-me-01")
    assert first.status_code == again.status_code == 201
    assert first.json == again.json
    assert balance_of(in_db, card) == before - 450 and purchases(in_db) == count + 1


def test_the_same_key_with_another_body_is_422_and_moves_nothing(device_as, in_db):
    pos, card = device_as(terminal="MARKET-01"), card_of(in_db)
    pos.send(PURCHASES, {"card_no": card, "amount": 450}, key="retry-me-02")
    before = balance_of(in_db, card)
    reply = pos.send(PURCHASES, {"card_no": card, "amount": 460}, key="retry-me-02")
    assert reply.status_code == 422 and reply.json["code"] == "idempotency_conflict"
    assert "retry-me-02" in reply.json["detail"] and "MARKET" not in reply.json["detail"]
    assert balance_of(in_db, card) == before


def test_keys_are_each_terminals_own(device_as, in_db):
    one, two, card = (
        device_as(terminal="MARKET-01"),
        device_as(terminal="MARKET-02"),
        card_of(in_db),
    )
    before = balance_of(in_db, card)
    for pos in (one, two):
        reply = pos.send(PURCHASES, {"card_no": card, "amount": 200}, key="shared-key-1")
        assert reply.status_code == 201
    assert balance_of(in_db, card) == before - 400


def test_r07_above_the_daily_limit_the_consumption_password_is_needed(device_as, in_db):
    pos, card = device_as(terminal="MARKET-01"), card_of(in_db)
    reply = pos.send(PURCHASES, {"card_no": card, "amount": 4_900}, key="big-buy-001")
    assert reply.status_code == 401 and reply.json["code"] == "password_required"
    wrong = {"card_no": card, "amount": 4_900, "consume_password": "123456"}
    assert pos.send(PURCHASES, wrong, key="big-buy-00w").json["code"] == "wrong_password"
    body = {"card_no": card, "amount": 4_900, "consume_password": "150035"}
    assert pos.send(PURCHASES, body, key="big-buy-002").status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": 300}, "card_no"),
        ({"card_no": "X", "amount": 0}, "amount"),
        ({"card_no": "X", "amount": "3"}, "amount"),
        ({"card_no": "X", "amount": 300, "consume_password": "12ab56"}, "consume_password"),
    ],
)
def test_bad_input_is_422_with_the_field_named(device_as, body, field):
    reply = device_as(terminal="CANTEEN1-01").send(PURCHASES, body, key="bad-input-01")
    assert reply.status_code == 422 and reply.mimetype == PROBLEM
    assert field in str(reply.json["errors"])


def test_an_unknown_card_is_404(device_as):
    reply = device_as(terminal="CANTEEN1-01").send(
        PURCHASES, {"card_no": "00000000", "amount": 300}, key="no-card-001"
    )
    assert reply.status_code == 404 and reply.json["code"] == "not_found"


def test_r10_a_controller_pre_deducts_then_settles_what_was_used(device_as, in_db):
    shower, card = device_as(terminal="BATH-01"), card_of(in_db)
    before = balance_of(in_db, card)
    held = shower.send("/api/v1/terminal/pre-deductions", {"card_no": card, "amount": 500},
                       key="shower-0001")  # fmt: skip
    assert held.status_code == 201 and held.json["held"] == 500
    assert balance_of(in_db, card) == before - 500
    body = {"card_no": card, "used": 180}
    settled = shower.send("/api/v1/terminal/pre-deductions/settle", body, key="shower-0002")
    assert settled.status_code == 200 and settled.json["returned"] == 320
    assert balance_of(in_db, card) == before - 180


def test_r10_a_pos_cannot_pre_deduct_nor_a_controller_sell(device_as, in_db):
    card = card_of(in_db)
    body = {"card_no": card, "amount": 500}
    pos_hold = device_as(terminal="CANTEEN1-01").send(
        "/api/v1/terminal/pre-deductions", body, key="wrong-kind-1"
    )
    assert pos_hold.status_code == 403
    assert (
        device_as(terminal="BATH-02").send(PURCHASES, body, key="wrong-kind-2").status_code == 403
    )


def test_r09_an_idle_pos_moves_the_wechat_top_up_onto_the_card(web, device_as, in_db):
    card = card_of(in_db)
    in_db(lambda: top_up(ctx_of(), card, 2_000, TopUpMethod.WECHAT))
    before = balance_of(in_db, card)
    reply = device_as(terminal="CANTEEN2-01").send(
        "/api/v1/terminal/transitional-claims", {"card_no": card}, key="claim-00001"
    )
    assert reply.status_code == 200 and reply.json["claimed"] == 2_000
    assert balance_of(in_db, card) == before + 2_000


def ctx_of() -> Ctx:
    return Ctx(session=db.session, actor="test", now=datetime.now(UTC))


def test_device_client_states_its_registered_place(device_as):
    pos = device_as(terminal="BUS-01")
    assert isinstance(pos, DeviceClient) and pos.location == "校车"

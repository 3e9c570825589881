"""The API of self-service kiosks with device keys: look-ups, loss and unfreeze (R13), the
daily limit (R07) and passwords (R06) behind the holder's passwords, bank transfers (R09) and
the network fee (R26) under an Idempotency-Key, and the self-service reissue of students'
cards at a reissue kiosk only (R15)."""

import pytest
from sqlalchemy import select

from app.extensions import db
from ledger.models.cards import Card
from ledger.models.people import Person
from tests.web.test_api_terminals import balance_of, card_of

STUDENT, STUDENT_ID, STUDENT_PASSWORD = "孙浩然", "510104200403150035", "150035"
FACULTY, FACULTY_PASSWORD = "王建国", "120318"
QUERY, LOSS, UNFREEZE = (
    "/api/v1/kiosk/cards/query",
    "/api/v1/kiosk/cards/loss",
    "/api/v1/kiosk/cards/unfreeze",
)
REISSUES = "/api/v1/kiosk/reissues"


def state_of(in_db, card_no: str) -> str:
    query = select(Card.state).where(Card.card_no == card_no)
    return in_db(lambda: db.session.scalar(query)).value


def test_r06_a_look_up_needs_the_query_password(device_as, in_db):
    kiosk, card = device_as(kiosk="K01"), card_of(in_db)
    wrong = kiosk.send(QUERY, {"card_no": card, "query_password": "000000"})
    assert wrong.status_code == 401 and wrong.json["code"] == "wrong_password"
    reply = kiosk.send(QUERY, {"card_no": card, "query_password": STUDENT_PASSWORD})
    assert reply.status_code == 200
    assert reply.json["balance"] == balance_of(in_db, card) and reply.json["state"] == "active"
    assert reply.json["daily_limit"] == 5_000 and len(reply.json["recent"]) >= 3
    assert all(line["amount"] < 0 for line in reply.json["recent"] if line["kind"] == "purchase")


def test_r13_loss_then_unfreeze_at_a_kiosk(device_as, in_db):
    kiosk, card = device_as(kiosk="K02"), card_of(in_db)
    body = {"card_no": card, "query_password": STUDENT_PASSWORD}
    assert kiosk.send(LOSS, body).json == {"card_no": card, "state": "lost"}
    assert state_of(in_db, card) == "lost"
    assert kiosk.send(UNFREEZE, body).json["state"] == "active"
    assert state_of(in_db, card) == "active"


def test_r13_a_wrong_password_changes_nothing(device_as, in_db):
    kiosk, card = device_as(kiosk="K02"), card_of(in_db)
    reply = kiosk.send(LOSS, {"card_no": card, "query_password": "999999"})
    assert reply.status_code == 401 and state_of(in_db, card) == "active"


def test_r07_the_limit_changes_with_the_consumption_password_up_to_600_yuan(device_as, in_db):
    kiosk, card = device_as(kiosk="K03"), card_of(in_db)
    path = "/api/v1/kiosk/cards/daily-limit"
    body = {"card_no": card, "daily_limit": 20_000, "consume_password": STUDENT_PASSWORD}
    assert kiosk.send(path, body).json["daily_limit"] == 20_000
    too_high = kiosk.send(path, body | {"daily_limit": 60_001})
    assert too_high.status_code == 422 and "600" in too_high.json["detail"]


def test_r06_a_password_is_changed_by_proving_the_old_one(device_as, in_db):
    kiosk, card = device_as(kiosk="K03"), card_of(in_db)
    path = "/api/v1/kiosk/cards/passwords"
    body = {"card_no": card, "which": "query", "old": STUDENT_PASSWORD, "new": "246810"}
    assert kiosk.send(path, body).json == {"card_no": card, "changed": "query"}
    assert kiosk.send(QUERY, {"card_no": card, "query_password": "246810"}).status_code == 200
    again = kiosk.send(path, body)
    assert again.status_code == 401 and again.json["code"] == "wrong_password"


def test_r09_a_bank_transfer_moves_money_once_per_key(device_as, in_db):
    kiosk, card = device_as(kiosk="K04"), card_of(in_db)
    before = balance_of(in_db, card)
    body = {"card_no": card, "amount": 10_000}
    first = kiosk.send("/api/v1/kiosk/bank-top-ups", body, key="bank-0000001")
    again = kiosk.send("/api/v1/kiosk/bank-top-ups", body, key="bank-0000001")
    assert first.status_code == again.status_code == 201 and first.json == again.json
    assert balance_of(in_db, card) == before + 10_000
    missing = kiosk.send("/api/v1/kiosk/bank-top-ups", body)
    assert missing.status_code == 400 and missing.json["code"] == "idempotency_key_missing"


def test_r26_a_student_pays_the_network_fee_once_a_week(device_as, in_db):
    kiosk, card = device_as(kiosk="K05"), card_of(in_db)
    body = {"card_no": card, "weeks": 2, "query_password": STUDENT_PASSWORD}
    paid = kiosk.send("/api/v1/kiosk/network-fees", body, key="net-fee-0001")
    assert paid.status_code == 201 and len(paid.json["weeks"]) == 2
    twice = kiosk.send("/api/v1/kiosk/network-fees", body, key="net-fee-0002")
    assert twice.status_code == 409
    faculty = {"card_no": card_of(in_db, FACULTY), "weeks": 1, "query_password": FACULTY_PASSWORD}
    assert kiosk.send("/api/v1/kiosk/network-fees", faculty, key="net-fee-0003").status_code == 403


def reissue_body(card_no: str, id_number: str = STUDENT_ID, new: str = "7700000001") -> dict:
    return {"card_no": card_no, "id_number": id_number, "new_card_no": new}


def test_r15_a_student_reissues_at_a_reissue_kiosk(device_as, in_db):
    kiosk, card = device_as(kiosk="R1"), card_of(in_db)
    before = balance_of(in_db, card)
    reply = kiosk.send(REISSUES, reissue_body(card), key="reissue-0001")
    assert reply.status_code == 201, reply.json
    assert reply.json["card_no"] == "7700000001" and reply.json["fee"] == 2_000
    assert reply.json["balance"] == before - 2_000 == balance_of(in_db, "7700000001")
    assert state_of(in_db, card) == "replaced"
    again = kiosk.send(REISSUES, reissue_body(card), key="reissue-0001")
    assert again.json == reply.json  # a retry: no second card


def test_r15_staff_reissue_only_at_the_counter(device_as, in_db):
    card = card_of(in_db, FACULTY)
    faculty_id = in_db(
        lambda: db.session.scalar(select(Person.id_number).where(Person.name == FACULTY))
    )
    reply = device_as(kiosk="R1").send(REISSUES, reissue_body(card, faculty_id), key="reissue-0002")
    assert reply.status_code == 403 and "105" in reply.json["detail"]
    assert state_of(in_db, card) == "active"


def test_r15_the_balance_must_be_at_least_20_yuan(web, device_as, in_db):
    kiosk, card = device_as(terminal="MARKET-01"), card_of(in_db)
    balance = balance_of(in_db, card)
    body = {"card_no": card, "amount": balance - 1_999, "consume_password": STUDENT_PASSWORD}
    assert kiosk.send("/api/v1/terminal/purchases", body, key="spend-most-1").status_code == 201
    reply = device_as(kiosk="R2").send(REISSUES, reissue_body(card), key="reissue-0003")
    assert reply.status_code == 402 or reply.json["code"] == "insufficient_balance"
    assert state_of(in_db, card) == "active" and balance_of(in_db, card) == 1_999


def test_r15_the_id_card_must_be_the_holders(device_as, in_db):
    card = card_of(in_db)
    reply = device_as(kiosk="R3", language="en").send(
        REISSUES, reissue_body(card, "110105197503120318"), key="reissue-0004"
    )
    assert reply.status_code == 422 and "ID card" in reply.json["detail"]
    assert state_of(in_db, card) == "active"


@pytest.mark.parametrize(
    ("kiosk", "path"),
    [("R1", QUERY), ("R1", LOSS), ("K01", REISSUES)],
)
def test_each_kiosk_does_only_its_own_services(device_as, in_db, kiosk, path):
    body = reissue_body(card_of(in_db)) | {"query_password": STUDENT_PASSWORD}
    reply = device_as(kiosk=kiosk).send(path, body, key="wrong-kiosk1")
    assert reply.status_code == 403 and reply.json["code"] == "not_allowed"


def test_a_terminal_key_cannot_call_a_kiosk(device_as, in_db):
    reply = device_as(terminal="CANTEEN1-01").send(
        QUERY, {"card_no": card_of(in_db), "query_password": STUDENT_PASSWORD}
    )
    assert reply.status_code == 403

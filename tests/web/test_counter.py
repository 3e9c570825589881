"""The card-office counter: finding a cardholder, the cardholder's page, and who may use it
(the helpers are in counter_support.py)."""

import re
from datetime import UTC, datetime

import pytest

from app.demo import DEMO_PASSWORD
from app.extensions import db
from app.web import yuan
from ledger.context import Ctx
from ledger.ops.metering import pre_deduct
from tests.web.counter_support import balance, card_state, hidden_fields, holder, text

# Searching


def test_search_by_part_of_the_name_lists_the_holder_with_card_and_state(as_user, in_db):
    person_id, card_no = holder(in_db, "王建国")
    page = text(as_user("cardoffice").get("/counter?q=建国"))
    assert f"/counter/people/{person_id}" in page
    assert "王建国" in page and card_no in page
    assert "在编教职工" in page and "石油工程学院" in page and "正常" in page


def test_search_by_whole_card_number_or_its_start(as_user, in_db):
    _, card_no = holder(in_db, "李红梅")
    client = as_user("cardoffice")
    assert "李红梅" in text(client.get(f"/counter?q={card_no}"))
    assert "李红梅" in text(client.get(f"/counter?q={card_no[:6]}"))


@pytest.mark.parametrize("digits", ["0318", "20318", "120318"])
def test_search_by_the_last_digits_of_the_id_number(as_user, digits):
    page = text(as_user("cardoffice").get(f"/counter?q={digits}"))
    assert "王建国" in page


def test_search_by_id_digits_ending_in_x(as_user):
    assert "李红梅" in text(as_user("cardoffice").get("/counter?q=262x"))


def test_search_says_when_nobody_is_found(as_user):
    page = text(as_user("cardoffice").get("/counter?q=查无此人"))
    assert "没有找到" in page


# The cardholder's page


def test_person_page_shows_whole_id_balances_cards_and_journal(as_user, in_db):
    person_id, card_no = holder(in_db, "李红梅")
    page = text(as_user("cardoffice").get(f"/counter/people/{person_id}"))
    assert "37010219800715262X" in page  # the card office sees the whole ID number
    assert f"{yuan(balance(in_db, person_id))} 元" in page
    assert card_no in page and "职工卡" in page
    assert "银行圈存" in page and "消费" in page  # the demo's top-up and meals
    for operation in ("现金充值", "挂失", "补办", "注销"):
        assert operation in page


def test_person_page_shows_an_open_pre_deduction(as_user, in_db):
    person_id, card_no = holder(in_db, "孙浩然")

    def tap_water_controller():
        ctx = Ctx(db.session, "test:water", datetime.now(UTC))
        pre_deduct(ctx, card_no, "WATER-01", 300)

    in_db(tap_water_controller)
    page = text(as_user("cardoffice").get(f"/counter/people/{person_id}"))
    assert "未结算的水控预扣：3.00 元" in page and "水控预扣" in page


def test_person_page_in_english(as_user, in_db):
    person_id, _ = holder(in_db, "李红梅")
    client = as_user("cardoffice")
    client.post("/language", data={"lang": "en", "next": "/"})
    page = text(client.get(f"/counter/people/{person_id}"))
    assert "Balance" in page and "Cash top-up" in page and "Recent journal" in page


def test_unknown_person_or_someone_elses_card_is_not_found(as_user, in_db):
    person_id, _ = holder(in_db, "王建国")
    _, other_card = holder(in_db, "李红梅")
    client = as_user("cardoffice")
    assert client.get("/counter/people/999999").status_code == 404
    assert client.get(f"/counter/people/{person_id}/loss?card_no={other_card}").status_code == 404
    assert client.get(f"/counter/people/{person_id}/nothing").status_code == 404


# R09: cash top-ups only in the counter's hours


def test_r09_no_cash_top_up_outside_counter_hours(as_user, in_db, counter_closed):
    client = as_user("cardoffice")
    person_id, card_no = holder(in_db, "王建国")
    top_up = f"/counter/people/{person_id}/top-up"
    before = balance(in_db, person_id)
    assert "现在不是现金充值时间" in text(client.get(f"{top_up}?card_no={card_no}"))
    data = {"card_no": card_no, "amount": "10", "step": "confirm", "idempotency_key": "k" * 32}
    reply = client.post(top_up, data=data)
    assert reply.status_code == 422 and "周一至周五 08:00-11:30, 14:00-17:00" in text(reply)
    assert balance(in_db, person_id) == before


# Who may use the counter


def _routes(in_db) -> list[tuple[str, str]]:
    person_id, card_no = holder(in_db, "王建国")
    person = f"/counter/people/{person_id}"
    routes = [("GET", "/counter?q=王"), ("GET", person)]
    for name in ("top-up", "loss", "unfreeze", "reissue", "cancel"):
        routes += [("GET", f"{person}/{name}?card_no={card_no}")]
        routes += [("POST", f"{person}/{name}?card_no={card_no}")]
    routes += [("GET", f"{person}/issue"), ("POST", f"{person}/issue")]
    routes += [("GET", f"{person}/refund?refund_id=1"), ("POST", f"{person}/refund?refund_id=1")]
    return routes


@pytest.mark.parametrize("login", ["applicant", "settlement", "approver", "itcenter"])
def test_other_roles_get_403_on_every_counter_route(as_user, in_db, login):
    client = as_user(login)
    person_id, _ = holder(in_db, "王建国")
    before = balance(in_db, person_id)
    for method, url in _routes(in_db):
        data = {"step": "confirm", "amount": "10", "identity_checked": "true"}
        reply = client.open(url, method=method, data=data if method == "POST" else None)
        assert reply.status_code == 403, (login, method, url)
    assert balance(in_db, person_id) == before


def test_anonymous_visitors_are_sent_to_the_login_page(web):
    reply = web.test_client().get("/counter")
    assert reply.status_code == 302 and "/login" in reply.headers["Location"]


@pytest.mark.parametrize("login", ["cardoffice", "admin"])
def test_card_office_and_admin_use_the_counter(as_user, in_db, login):
    person_id, card_no = holder(in_db, "王建国")
    client = as_user(login)
    assert client.get("/counter").status_code == 200
    assert client.get(f"/counter/people/{person_id}").status_code == 200
    assert client.get(f"/counter/people/{person_id}/loss?card_no={card_no}").status_code == 200


@pytest.mark.parametrize("web_config", [{"WTF_CSRF_ENABLED": True}])
def test_counter_forms_carry_the_csrf_token(web, in_db, web_config):
    def token(reply) -> str:
        return re.search(r'name="csrf_token" value="([^"]+)"', text(reply))[1]

    person_id, card_no = holder(in_db, "王建国")
    client = web.test_client()
    login = {"username": "cardoffice", "password": DEMO_PASSWORD}
    client.post("/login", data={**login, "csrf_token": token(client.get("/login"))})
    loss = f"/counter/people/{person_id}/loss?card_no={card_no}"
    data = {"identity_checked": "true", "step": "review"}
    assert client.post(loss, data=data).status_code == 400
    confirmation = client.post(loss, data={**data, "csrf_token": token(client.get(loss))})
    assert confirmation.status_code == 200
    confirmed = {**hidden_fields(text(confirmation)), "step": "confirm"}
    assert "csrf_token" in confirmed and client.post(loss, data=confirmed).status_code == 302
    assert card_state(in_db, card_no) == "lost"

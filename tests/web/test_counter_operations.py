"""The counter's operations end to end: form, confirmation (确认办理), the ledger call, the
receipt (a page of its own the confirmation redirects to, drawn from the ledger's record);
and that bad input, a refusal or a second confirmation changes nothing."""

import re

import pytest
from sqlalchemy import func, select

from app.extensions import db
from ledger.context import Ctx
from ledger.models.cards import Card, CardState, Delegation
from ledger.models.journal import EntryKind, JournalEntry
from ledger.models.money import Refund, RefundState
from ledger.models.people import Department, IdType, Person, PersonCategory
from ledger.ops.closing import TerminationReason, terminate_card
from tests.web.counter_support import (
    balance,
    card_state,
    hidden_fields,
    holder,
    review,
    text,
)
from tests.web.counter_support import confirm as confirm_only

pytestmark = pytest.mark.usefixtures("counter_open")


def entries_of_kind(in_db, kind: EntryKind) -> int:
    query = select(func.count()).select_from(JournalEntry).where(JournalEntry.kind == kind)
    return in_db(lambda: db.session.scalar(query))


@pytest.fixture
def clerk(as_user):
    return as_user("cardoffice")


@pytest.fixture
def wang(in_db):
    """王建国, a faculty member with an active staff card: (person id, card number)."""
    return holder(in_db, "王建国")


def reference(receipt) -> str:
    """The number on a receipt (the ledger's record of the operation)."""
    return re.search(r'class="reference">([^<]+)<', text(receipt))[1]


def receipt_after(client, confirmed):
    """The receipt page the confirmation `confirmed` redirected to (post/redirect/get)."""
    assert confirmed.status_code == 302, text(confirmed)
    location = confirmed.headers["Location"]
    assert re.fullmatch(r"/counter/receipts/(entry|event)/\d+", location)
    return client.get(location)


def confirm(client, url: str, data: dict):
    """Fill in the form, confirm it, follow to the receipt: (confirmation page, receipt)."""
    page, confirmed = confirm_only(client, url, data)
    return page, receipt_after(client, confirmed)


def url(person_id: int, name: str, card_no: str | None = None) -> str:
    return f"/counter/people/{person_id}/{name}" + (f"?card_no={card_no}" if card_no else "")


# Cash top-up (R09)


def test_top_up_in_cash_moves_the_money_and_prints_a_receipt(clerk, in_db, wang):
    person_id, card_no = wang
    before = balance(in_db, person_id)
    assert "充值金额" in text(clerk.get(url(person_id, "top-up", card_no)))
    page = text(review(clerk, url(person_id, "top-up", card_no), {"amount": "12.5"}))
    assert "12.50 元" in page and "idempotency_key" in page
    assert balance(in_db, person_id) == before  # nothing happens before the confirmation
    confirmation = {**hidden_fields(page), "step": "confirm"}
    receipt = receipt_after(clerk, clerk.post(url(person_id, "top-up", card_no), data=confirmation))
    shown = text(receipt)
    assert receipt.status_code == 200 and "业务回执" in shown and "data-print" in shown
    assert "现金充值已办理完成" in shown  # said once, after the confirmation
    assert "现金充值已办理完成" not in text(clerk.get(receipt.request.path))
    assert balance(in_db, person_id) == before + 1250
    after = f"{(before + 1250) // 100}.{(before + 1250) % 100:02d} 元"
    assert "12.50 元" in shown and after in shown and "卡务中心柜员" in shown
    assert "记账分录" in shown


def test_a_confirmation_posted_twice_tops_up_once(clerk, in_db, wang):
    person_id, card_no = wang
    before, entries = balance(in_db, person_id), entries_of_kind(in_db, EntryKind.TOPUP_CASH)
    page = text(review(clerk, url(person_id, "top-up", card_no), {"amount": "100"}))
    confirmation = {**hidden_fields(page), "step": "confirm"}
    first = clerk.post(url(person_id, "top-up", card_no), data=confirmation)
    second = clerk.post(url(person_id, "top-up", card_no), data=confirmation)
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert reference(receipt_after(clerk, first)) == reference(receipt_after(clerk, second))
    assert balance(in_db, person_id) == before + 10000
    assert entries_of_kind(in_db, EntryKind.TOPUP_CASH) == entries + 1


def test_a_confirmation_without_its_key_is_shown_again_not_carried_out(clerk, in_db, wang):
    person_id, card_no = wang
    before = balance(in_db, person_id)
    data = {"card_no": card_no, "amount": "20", "step": "confirm"}
    reply = clerk.post(url(person_id, "top-up"), data=data)
    assert reply.status_code == 200 and "确认办理" in text(reply)
    assert balance(in_db, person_id) == before


@pytest.mark.parametrize(
    "amount, message",
    [
        ("12.345", "最多两位小数"),
        ("abc", "最多两位小数"),
        ("0", "金额须大于零"),
        ("0.00", "金额须大于零"),
        ("-5", "金额须大于零"),
        ("", "必填"),
        ("10000.01", "金额无效"),
    ],
)
def test_a_bad_amount_is_refused_beside_the_field(clerk, in_db, wang, amount, message):
    person_id, card_no = wang
    before = balance(in_db, person_id)
    for step in ("review", "confirm"):
        reply = clerk.post(url(person_id, "top-up", card_no), data={"amount": amount, "step": step})
        assert reply.status_code == 422
        assert re.search(f'class="field-error" id="amount-error">[^<]*{message}', text(reply))
    assert balance(in_db, person_id) == before


# Loss and unfreeze (R13)


def test_report_loss_then_unfreeze_at_the_counter(clerk, in_db, wang):
    person_id, card_no = wang
    page, receipt = confirm(clerk, url(person_id, "loss", card_no), {"identity_checked": "true"})
    assert "正常 → 已挂失" in page
    assert card_state(in_db, card_no) == CardState.LOST
    assert "已挂失" in text(receipt) and "卡片记录" in text(receipt)
    _, receipt = confirm(clerk, url(person_id, "unfreeze", card_no), {"identity_checked": "true"})
    assert card_state(in_db, card_no) == CardState.ACTIVE and "正常" in text(receipt)


def test_loss_needs_the_id_checked(clerk, in_db, wang):
    person_id, card_no = wang
    reply = review(clerk, url(person_id, "loss", card_no), {})
    assert reply.status_code == 422 and "须当面核验有效证件后办理" in text(reply)
    assert card_state(in_db, card_no) == CardState.ACTIVE


def test_unfreezing_an_active_card_shows_the_ledgers_refusal(clerk, in_db, wang):
    person_id, card_no = wang
    assert "不能办理解挂" in text(clerk.get(url(person_id, "unfreeze", card_no)))
    data = {"identity_checked": "true", "step": "confirm"}
    reply = clerk.post(url(person_id, "unfreeze", card_no), data=data)
    assert reply.status_code == 422 and "不能从“正常”变为“正常”" in text(reply)
    assert card_state(in_db, card_no) == CardState.ACTIVE


# Reissue (R15, R16)


def test_r15_r17_reissue_in_person_voids_the_old_card_and_keeps_the_balance(clerk, in_db, wang):
    person_id, card_no = wang
    before = balance(in_db, person_id)
    data = {"identity_checked": "true", "reason": "damaged", "mode": "in_person"}
    page, receipt = confirm(clerk, url(person_id, "reissue", card_no), data)
    assert "20.00 元" in page and "持卡人本人" in page
    new_no = re.search(r"<dt>新卡号</dt><dd>(\d+)</dd>", text(receipt))[1]
    assert card_state(in_db, card_no) == CardState.REPLACED
    assert card_state(in_db, new_no) == CardState.ACTIVE
    assert balance(in_db, person_id) == before  # the fee was paid in cash


def test_r03_reissue_fee_from_the_balance(clerk, in_db, wang):
    person_id, card_no = wang
    before = balance(in_db, person_id)
    data = {"identity_checked": "true", "reason": "lost", "fee_from_balance": "true"}
    _, receipt = confirm(clerk, url(person_id, "reissue", card_no), data)
    assert "从卡内余额扣除" in text(receipt)
    assert balance(in_db, person_id) == before - 2000


def test_r16_delegated_reissue_records_the_delegate(clerk, in_db, wang):
    person_id, card_no = wang
    data = {
        "identity_checked": "true",
        "reason": "lost",
        "mode": "delegated",
        "delegate.name": "张志远",
        "delegate.id_type": "resident_id",
        "delegate.id_number": "110108198506120009",
        "delegate.evidence": "written_delegation",
        "delegate.evidence_ref": "委托书 2026-01",
    }
    page, receipt = confirm(clerk, url(person_id, "reissue", card_no), data)
    assert "110108198506120009" in page  # the clerk sees the whole ID
    assert "张志远" in text(receipt) and "1101**********0009" in text(receipt)  # paper: masked
    recorded = select(Delegation.delegate_name, Delegation.evidence_ref)
    assert in_db(lambda: db.session.execute(recorded).all()) == [("张志远", "委托书 2026-01")]
    assert card_state(in_db, card_no) == CardState.REPLACED


def test_r16_a_delegate_without_identity_is_refused(clerk, in_db, wang):
    person_id, card_no = wang
    data = {"identity_checked": "true", "reason": "lost", "mode": "delegated"}
    reply = review(clerk, url(person_id, "reissue", card_no), data)
    assert reply.status_code == 422 and "代办须登记代办人本人证件及委托凭证" in text(reply)
    data |= {
        "delegate.name": "张志远",
        "delegate.id_number": "110108198506120008",
        "delegate.evidence": "holder_id",
    }
    reply = review(clerk, url(person_id, "reissue", card_no), data)
    assert "身份证号码无效" in text(reply)
    assert card_state(in_db, card_no) == CardState.ACTIVE


# Cancellation (R14, R18)


def test_cancel_pays_the_balance_in_cash(clerk, in_db):
    person_id, card_no = holder(in_db, "孙浩然")
    before = balance(in_db, person_id)
    data = {"reason": "withdrawn", "identity_checked": "true", "card_presented": "true"}
    page, receipt = confirm(clerk, url(person_id, "cancel", card_no), data)
    owed = f"{before // 100}.{before % 100:02d} 元"
    assert owed in page
    assert card_state(in_db, card_no) == CardState.CANCELLED
    assert "已注销" in text(receipt) and owed in text(receipt)
    assert balance(in_db, person_id) == 0


def test_a_cancellation_confirmed_twice_shows_the_first_receipt_and_pays_once(clerk, in_db):
    person_id, card_no = holder(in_db, "周雨桐")
    data = {"reason": "withdrawn", "identity_checked": "true", "card_presented": "true"}
    page = text(review(clerk, url(person_id, "cancel", card_no), data))
    confirmation = {**hidden_fields(page), "step": "confirm"}
    first = clerk.post(url(person_id, "cancel", card_no), data=confirmation)
    payouts = entries_of_kind(in_db, EntryKind.REFUND_PAYOUT)
    second = clerk.post(url(person_id, "cancel", card_no), data=confirmation)
    assert first.headers["Location"] == second.headers["Location"]
    assert reference(receipt_after(clerk, first)) == reference(receipt_after(clerk, second))
    assert entries_of_kind(in_db, EntryKind.REFUND_PAYOUT) == payouts


def test_r18_cancel_for_the_wrong_reason_or_without_the_card_is_refused(clerk, in_db):
    person_id, card_no = holder(in_db, "孙浩然")
    data = {"reason": "left", "identity_checked": "true"}
    reply = review(clerk, url(person_id, "cancel", card_no), data)
    page = text(reply)
    assert reply.status_code == 422 and "离校原因与卡类型不符" in page and "须交回校园卡" in page
    assert card_state(in_db, card_no) == CardState.ACTIVE


# Issue (R01-R04)


def _new_person(in_db, category: PersonCategory, id_number: str) -> int:
    def add():
        dept = db.session.scalar(select(Department).where(Department.code == "CS"))
        person = Person(
            name="新同事", id_type=IdType.RESIDENT_ID, id_number=id_number,
            category=category, department=dept,
        )  # fmt: skip
        db.session.add(person)
        db.session.flush()
        return person.id

    return in_db(add)


def test_r03_issue_a_first_staff_card_free_of_charge(clerk, in_db):
    person_id = _new_person(in_db, PersonCategory.FACULTY, "110101199001011237")
    assert "办理新卡" in text(clerk.get(f"/counter/people/{person_id}"))
    page, receipt = confirm(clerk, url(person_id, "issue"), {"identity_checked": "true"})
    assert "职工卡" in page and "0.00 元" in page
    _, card_no = holder(in_db, "新同事")
    assert card_no in text(receipt) and card_state(in_db, card_no) == CardState.ACTIVE


def test_an_issue_confirmed_twice_issues_one_card(clerk, in_db):
    person_id = _new_person(in_db, PersonCategory.FACULTY, "110101199001011237")
    page = text(review(clerk, url(person_id, "issue"), {"identity_checked": "true"}))
    confirmation = {**hidden_fields(page), "step": "confirm"}
    first = clerk.post(url(person_id, "issue"), data=confirmation)
    second = clerk.post(url(person_id, "issue"), data=confirmation)
    assert first.headers["Location"] == second.headers["Location"]
    assert reference(receipt_after(clerk, first)) == reference(receipt_after(clerk, second))
    cards = select(func.count()).select_from(Card).where(Card.person_id == person_id)
    assert in_db(lambda: db.session.scalar(cards)) == 1


def test_r04_a_temporary_card_needs_the_end_of_the_working_period(clerk, in_db):
    person_id = _new_person(in_db, PersonCategory.OTHER, "110101199001011237")
    reply = review(clerk, url(person_id, "issue"), {"identity_checked": "true"})
    assert reply.status_code == 422 and "临时卡须填写在校工作截止日期" in text(reply)
    assert holder(in_db, "新同事")[1] is None


def test_r02_no_second_card_for_a_cardholder(clerk, in_db, wang):
    person_id, card_no = wang
    reply = review(clerk, url(person_id, "issue"), {"identity_checked": "true"})
    assert reply.status_code == 422 and "一人一卡" in text(reply)


# Refunds (R14, R19)


def test_pay_out_a_pending_refund_in_cash(clerk, in_db, web):
    person_id, card_no = holder(in_db, "陈立新")
    owed = balance(in_db, person_id)

    def terminate():
        card = db.session.scalar(select(Card).where(Card.card_no == card_no))
        ctx = Ctx(db.session, "test:hr", card.issued_at.astimezone())
        terminate_card(ctx, card.card_no, TerminationReason.LEFT)
        return db.session.scalar(select(Refund.id).where(Refund.card_id == card.id))

    refund_id = in_db(terminate)
    assert "待支付退款" in text(clerk.get(f"/counter/people/{person_id}"))
    refund_url = f"/counter/people/{person_id}/refund?refund_id={refund_id}"
    _, receipt = confirm(clerk, refund_url, {"identity_checked": "true"})
    assert f"{owed // 100}.{owed % 100:02d} 元" in text(receipt)
    state = in_db(lambda: db.session.get(Refund, refund_id).state)
    assert state == RefundState.PAID

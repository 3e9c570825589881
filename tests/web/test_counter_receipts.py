"""Counter receipts (回执) as pages of their own: drawn from the journal entry or card event
the ledger recorded, the same right after the confirmation and whenever opened again, linked
from the cardholder's page; opening one changes nothing."""

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from ledger.context import Ctx
from ledger.models.cards import Card, CardEvent
from ledger.models.journal import EntryKind, JournalEntry
from ledger.models.people import Department, IdType, Person, PersonCategory
from ledger.ops.cards import extend_card
from tests.web.counter_support import balance, holder, text
from tests.web.test_counter_operations import confirm, receipt_after, url

pytestmark = pytest.mark.usefixtures("counter_open")


@pytest.fixture
def clerk(as_user):
    return as_user("cardoffice")


def yuan_text(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d} 元"


def top_up(clerk, person_id: int, card_no: str, amount: str):
    """A cash top-up confirmed: its receipt page."""
    return confirm(clerk, url(person_id, "top-up", card_no), {"amount": amount})[1]


def counts(in_db) -> tuple[int, int]:
    """(journal entries, card events): what opening a receipt must not change."""
    return in_db(
        lambda: (
            db.session.scalar(select(func.count(JournalEntry.id))),
            db.session.scalar(select(func.count(CardEvent.id))),
        )
    )


def test_a_receipt_reopened_shows_what_it_showed_and_writes_nothing(clerk, in_db):
    person_id, card_no = holder(in_db, "王建国")
    receipt = top_up(clerk, person_id, card_no, "30")
    before = counts(in_db)
    again = clerk.get(receipt.request.path)
    assert again.status_code == 200 and counts(in_db) == before
    shown = re.search(r'<article class="receipt">.*?</article>', text(again), re.S)[0]
    assert shown == re.search(r'<article class="receipt">.*?</article>', text(receipt), re.S)[0]
    assert f'href="{receipt.request.path}"' in text(again)  # the receipt links to itself


def test_a_reprinted_top_up_shows_the_balance_of_its_day_not_todays(clerk, in_db):
    person_id, card_no = holder(in_db, "王建国")
    before = balance(in_db, person_id)
    first = top_up(clerk, person_id, card_no, "10")
    top_up(clerk, person_id, card_no, "20")
    reprint = text(clerk.get(first.request.path))
    assert f"<dt>充值后余额</dt><dd>{yuan_text(before + 1000)}</dd>" in reprint
    assert "<dt>充值金额</dt><dd>10.00 元</dd>" in reprint


def test_the_cardholder_page_links_the_receipts_of_its_journal_and_card_operations(clerk, in_db):
    person_id, card_no = holder(in_db, "王建国")
    receipt = top_up(clerk, person_id, card_no, "10")
    _, loss = confirm(clerk, url(person_id, "loss", card_no), {"identity_checked": "true"})
    page = text(clerk.get(f"/counter/people/{person_id}"))
    assert f'href="{receipt.request.path}"' in page
    assert f'href="{loss.request.path}"' in page and "卡片业务记录" in page
    assert "/counter/receipts/entry/" in receipt.request.path
    assert "/counter/receipts/event/" in loss.request.path
    for link in set(re.findall(r'href="(/counter/receipts/[^"]+)"', page)):
        assert clerk.get(link).status_code == 200, link


def test_a_reissue_receipt_is_drawn_again_with_its_fee_balance_and_masked_delegate(clerk, in_db):
    person_id, card_no = holder(in_db, "王建国")
    before = balance(in_db, person_id)
    data = {
        "identity_checked": "true", "reason": "lost", "mode": "delegated",
        "fee_from_balance": "true", "delegate.name": "张志远",
        "delegate.id_type": "resident_id", "delegate.id_number": "110108198506120009",
        "delegate.evidence": "written_delegation", "delegate.evidence_ref": "委托书 2026-02",
    }  # fmt: skip
    _, receipt = confirm(clerk, url(person_id, "reissue", card_no), data)
    shown = text(clerk.get(receipt.request.path))
    assert f"<dt>原卡号（已作废）</dt><dd>{card_no}</dd>" in shown
    assert "20.00 元（从卡内余额扣除）" in shown
    assert f"<dt>新卡余额</dt><dd>{yuan_text(before - 2000)}</dd>" in shown
    assert "张志远" in shown and "1101**********0009" in shown
    assert "110108198506120009" not in shown


def test_an_issue_receipt_keeps_the_expiry_it_was_issued_with(clerk, in_db):
    def new_visitor():
        department = db.session.scalar(select(Department).where(Department.code == "CS"))
        person = Person(
            name="访客", id_type=IdType.RESIDENT_ID, id_number="110101199001011237",
            category=PersonCategory.OTHER, department=department,
        )  # fmt: skip
        db.session.add(person)
        db.session.flush()
        return person.id

    person_id = in_db(new_visitor)
    until = date.today() + timedelta(days=60)
    data = {"identity_checked": "true", "valid_until": until.isoformat()}
    _, receipt = confirm(clerk, url(person_id, "issue"), data)
    assert f"<dt>有效期至</dt><dd>{until.isoformat()}</dd>" in text(receipt)

    def extend():
        card = db.session.scalar(select(Card).where(Card.person_id == person_id))
        extend_card(
            Ctx(db.session, "test:hr", datetime.now(UTC)), card.card_no, until + timedelta(days=30)
        )

    in_db(extend)
    assert f"<dt>有效期至</dt><dd>{until.isoformat()}</dd>" in text(clerk.get(receipt.request.path))


def test_a_receipt_in_english(clerk, in_db):
    person_id, card_no = holder(in_db, "王建国")
    receipt = top_up(clerk, person_id, card_no, "10")
    clerk.post("/language", data={"lang": "en", "next": "/"})
    page = text(clerk.get(receipt.request.path))
    assert "Receipt" in page and "10.00 yuan" in page


def test_a_record_that_is_no_counter_operations_has_no_receipt(clerk, in_db):
    def a_purchase():
        purchase = select(JournalEntry.id).where(JournalEntry.kind == EntryKind.PURCHASE)
        return db.session.scalar(purchase.limit(1))

    purchase = in_db(a_purchase)
    assert clerk.get(f"/counter/receipts/entry/{purchase}").status_code == 404
    assert clerk.get("/counter/receipts/entry/999999").status_code == 404
    assert clerk.get("/counter/receipts/event/999999").status_code == 404
    assert clerk.get("/counter/receipts/card/1").status_code == 404


@pytest.mark.parametrize("login", ["applicant", "settlement", "approver"])
def test_only_the_card_office_opens_receipts(as_user, clerk, in_db, login):
    person_id, card_no = holder(in_db, "王建国")
    receipt = top_up(clerk, person_id, card_no, "10")
    assert as_user(login).get(receipt.request.path).status_code == 403
    assert as_user("admin").get(receipt.request.path).status_code == 200


def test_a_confirmation_replayed_after_the_receipt_leads_to_the_same_receipt(clerk, in_db):
    person_id, card_no = holder(in_db, "王建国")
    before = balance(in_db, person_id)
    page, confirmed = confirm(clerk, url(person_id, "top-up", card_no), {"amount": "5"})
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page))
    replay = clerk.post(url(person_id, "top-up", card_no), data={**hidden, "step": "confirm"})
    assert receipt_after(clerk, replay).request.path == confirmed.request.path
    assert balance(in_db, person_id) == before + 500

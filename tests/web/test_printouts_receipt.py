"""Counter receipts as printed PDFs (PDF/A): the same facts as the receipt page, in Chinese
whatever the clerk's UI language, for the card office only; printing changes nothing."""

import pytest

from tests.pdf_support import page_count, pdf_text
from tests.web.counter_support import holder
from tests.web.test_counter_operations import confirm, url
from tests.web.test_counter_receipts import counts

pytestmark = pytest.mark.usefixtures("counter_open")


@pytest.fixture
def clerk(as_user):
    return as_user("cardoffice")


def test_a_top_up_receipt_prints_its_facts_as_text(clerk, in_db):
    person_id, card_no = holder(in_db, "王建国")
    receipt = confirm(clerk, url(person_id, "top-up", card_no), {"amount": "30"})[1]
    before = counts(in_db)
    reply = clerk.get(f"{receipt.request.path}.pdf")
    assert reply.status_code == 200 and reply.mimetype == "application/pdf"
    assert reply.headers["Content-Disposition"].startswith("inline; filename*=UTF-8''")
    text = pdf_text(reply.data)
    for shown in ("校园卡业务回执", "王建国", card_no, "30.00 元", "卡务中心柜员", "第1页，共1页"):
        assert shown in text
    assert "110105197503120318" not in text and "1101**********0318" in text
    assert page_count(reply.data) == 1 and counts(in_db) == before


def test_the_receipt_prints_in_chinese_for_an_english_ui(clerk, in_db):
    person_id, card_no = holder(in_db, "王建国")
    receipt = confirm(clerk, url(person_id, "top-up", card_no), {"amount": "12.5"})[1]
    clerk.post("/language", data={"lang": "en"})
    assert "Receipt" in clerk.get(receipt.request.path).get_data(as_text=True)
    text = pdf_text(clerk.get(f"{receipt.request.path}.pdf").data)
    assert "现金充值" in text and "12.50 元" in text and "Top" not in text


def test_only_the_card_office_prints_receipts(as_user, clerk, in_db):
    person_id, card_no = holder(in_db, "王建国")
    receipt = confirm(clerk, url(person_id, "top-up", card_no), {"amount": "5"})[1]
    assert as_user("applicant").get(f"{receipt.request.path}.pdf").status_code == 403
    assert clerk.get("/counter/receipts/entry/999999.pdf").status_code == 404

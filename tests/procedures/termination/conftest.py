"""强制终止 forced termination's fixtures and helpers: graduates with bank cards on file,
rosters written as CSV or XLSX and uploaded by HR or the registrar, the card office's single
case with evidence, and the IT centre's and the settlement centre's steps."""

import csv
import io

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from ledger.models.money import Refund
from ledger.models.people import PersonCategory
from workflows.models import ProcessInstance
from workflows.procedures.termination import file_roster

P = PersonCategory
PROCESS = "forced_termination"
HEADER = ("卡号", "姓名", "证件号码", "原因")
WORDS = {"graduated": "毕业", "withdrawn": "退学", "left": "离职"}


@pytest.fixture
def graduates(make):
    """Two graduates with balances and bank cards on file."""
    cards = [make.card(P.UNDERGRADUATE, balance=amount) for amount in (3456, 1200)]
    for n, card in enumerate(cards):
        card.account.bank_card_no = f"621700000000000{n:04d}"
    return cards


def rows_of(*pairs) -> list[tuple]:
    """Roster rows (card, reason) with the holder's name and ID number, reasons in Chinese."""
    return [
        (card.card_no, card.person.name, card.person.id_number, WORDS[reason])
        for card, reason in pairs
    ]


def csv_bytes(rows, encoding="utf-8", header=HEADER) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows([header, *rows])
    return out.getvalue().encode(encoding)


def xlsx_bytes(rows, header=HEADER) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in [header, *rows]:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(desk, who, content, filename="名单.csv", department=None):
    department = department or {"hr": desk.hr_dept, "registrar": desk.registrar_dept}[who]
    with desk._at():
        return file_roster(desk.env(desk.users[who]), filename, content, department.id)


def entry(card, reason, **kw) -> dict:
    return {"card_no": card.card_no, "name": card.person.name, "reason": reason} | kw


def breach_request(card, reason="breach", department="SEC") -> dict:
    evidence = {"confirming_department": department, "document_ref": "保卫处〔2026〕12号"}
    return {"entries": [entry(card, reason)], "evidence": evidence}


def state(db_session, card):
    db_session.refresh(card)
    return card.state


def refunds(db_session, *cards) -> list[Refund]:
    ids = [card.id for card in cards]
    return list(db_session.scalars(select(Refund).where(Refund.card_id.in_(ids))))


def instances_count(db_session) -> int:
    return db_session.scalar(select(func.count()).select_from(ProcessInstance))


def review(desk, instance, *excluded):
    """The IT centre approves; the worker carries the termination out."""
    desk.approve("it", instance, "it_review", excluded=[c.card_no for c in excluded])
    desk.later()


def confirm_batch(desk, instance, ref="BOC-2026-1127-01"):
    """The settlement centre confirms the batch; the worker pays it."""
    desk.act("settlement", instance, "bank_batch", bank_batch_ref=ref, confirmed=True)
    desk.later()

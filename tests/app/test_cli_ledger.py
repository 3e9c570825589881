"""`flask ledger refund-batch`: the daily bank refund batch (R14)."""

import json

import pytest
from sqlalchemy import select

from app.extensions import db
from ledger.context import Ctx
from ledger.models.money import Refund, RefundState
from ledger.models.people import PersonCategory
from ledger.ops.closing import TerminationReason, terminate_card
from tests.conftest import NOW, TEST_CONFIG
from tests.factories import Factories


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=list(args))


def graduates(app, *cards: tuple[int, str | None]) -> list[int]:
    """Terminate a graduate's card per (balance, bank card number): the refund ids."""
    with app.app_context():
        ctx = Ctx(db.session, "test:it", NOW, TEST_CONFIG)
        make, ids = Factories(ctx), []
        for balance, bank_card_no in cards:
            card = make.card(PersonCategory.UNDERGRADUATE, balance=balance)
            card.account.bank_card_no = bank_card_no
            ids.append(terminate_card(ctx, card.card_no, TerminationReason.GRADUATED)["refund_id"])
        db.session.commit()
    return ids


def test_r14_refund_batch_says_how_many_it_left_out_for_want_of_a_bank_card(cli, app):
    on_file, without = graduates(app, (3456, "6217000000000000001"), (700, None))
    result = cli("ledger", "refund-batch")
    assert result.exit_code == 0, result.output
    batch, message = result.output.splitlines()
    assert json.loads(batch) == {
        "count": 1,
        "total": 3456,
        "refund_ids": [on_file],
        "without_bank_card": 1,
    }
    assert message == (
        "已退至银行卡 1 笔，合计 34.56 元；"
        "1 笔因持卡人未登记银行卡未列入本批，请本人到中油大厦A座105室领取现金"
    )
    with app.app_context():
        states = dict(db.session.execute(select(Refund.id, Refund.state)).all())
    assert states == {on_file: RefundState.PAID, without: RefundState.PENDING}

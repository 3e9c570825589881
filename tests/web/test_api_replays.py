"""Issue 7 on PostgreSQL, the production database: a terminal that sends the same purchase
three times at once (a POS retrying on a slow network) is charged once, and all three answers
are the first one. The app runs on a database of its own holding the demo data, and the three
requests run in threads that start together."""

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from app import create_app
from app.demo import load_demo
from app.extensions import db
from app.uow import unit_of_work
from ledger.base import Base
from ledger.models.journal import EntryKind, JournalEntry
from tests.conftest import new_pg_database
from tests.web.api_support import DeviceClient, device_key_of
from tests.web.test_api_terminals import PURCHASES, balance_of, card_of

pytestmark = pytest.mark.postgres
CALLS = 3


@pytest.fixture(scope="module")
def pg_web():
    """The app on a new PostgreSQL database with the demo data, dropped afterwards."""
    with new_pg_database("cardoffice_api") as url:
        uri = url.render_as_string(hide_password=False)
        app = create_app({"APP_CONFIG": "testing", "SQLALCHEMY_DATABASE_URI": uri})
        with app.app_context():
            Base.metadata.create_all(db.engine)
            with unit_of_work():
                load_demo(db.session, datetime.now(UTC))
        yield app
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def in_pg(pg_web):
    def run(fn):
        with pg_web.app_context(), unit_of_work():
            return fn()

    return run


def purchases_of(in_pg, card_no: str) -> int:
    query = select(func.count()).select_from(JournalEntry).where(
        JournalEntry.kind == EntryKind.PURCHASE, JournalEntry.card.has(card_no=card_no)
    )
    return in_pg(lambda: db.session.scalar(query))


def send_at_once(app, body: dict, key: str) -> list:
    """Send `body` CALLS times at the same moment, each from its own client and thread."""
    device_key, location = device_key_of(app, terminal="MARKET-01")
    start, replies = threading.Barrier(CALLS), [None] * CALLS

    def send(index: int) -> None:
        pos = DeviceClient(app.test_client(), device_key, location)
        start.wait()
        replies[index] = pos.send(PURCHASES, body, key=key)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(CALLS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return replies


def test_the_same_purchase_sent_three_times_at_once_moves_money_once(pg_web, in_pg):
    card = card_of(in_pg)
    before, count = balance_of(in_pg, card), purchases_of(in_pg, card)
    replies = send_at_once(pg_web, {"card_no": card, "amount": 520}, key="lunch-retry-0001")
    assert [reply.status_code for reply in replies] == [201] * CALLS
    assert replies[0].json == replies[1].json == replies[2].json
    assert balance_of(in_pg, card) == before - 520 == replies[0].json["balance"]
    assert purchases_of(in_pg, card) == count + 1

"""What the counter's tests share: the demo cardholders and their cards and balances, the
days the counter is open or closed (R09), and going through an operation's form and
confirmation page. The `counter_open` and `counter_closed` fixtures are in conftest.py."""

import html
import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.extensions import db
from ledger.models.cards import LIVE_STATES, Card
from ledger.models.people import Person
from ledger.queries import card_account_of

SHANGHAI = ZoneInfo("Asia/Shanghai")
WEEKDAYS, SATURDAY = (0, 1, 2, 3, 4), (5,)
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def next_day_at(weekdays: tuple[int, ...], hour: int, minute: int = 0) -> datetime:
    """The first day after today falling on one of `weekdays`, at hour:minute campus time."""
    day = datetime.now(SHANGHAI).date() + timedelta(days=1)
    while day.weekday() not in weekdays:
        day += timedelta(days=1)
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI)


def holder(in_db, name: str) -> tuple[int, str | None]:
    """(person id, number of their live card or None) of a demo cardholder."""

    def find():
        person = db.session.scalar(select(Person).where(Person.name == name))
        card = db.session.scalar(
            select(Card).where(Card.person_id == person.id, Card.state.in_(LIVE_STATES))
        )
        return person.id, card.card_no if card else None

    return in_db(find)


def balance(in_db, person_id: int) -> int:
    """The person's purse balance in fen."""
    return in_db(lambda: card_account_of(db.session, person_id).purse.balance)


def card_state(in_db, card_no: str) -> str:
    """The card's state as stored."""
    return in_db(lambda: db.session.scalar(select(Card.state).where(Card.card_no == card_no)))


def hidden_fields(page: str) -> dict:
    """The hidden inputs of a confirmation page: what it posts back when confirmed."""
    return {name: html.unescape(value) for name, value in _HIDDEN.findall(page)}


def review(client, url: str, data: dict):
    """Post the form to get the confirmation page."""
    return client.post(url, data={**data, "step": "review"})


def confirm(client, url: str, data: dict):
    """Fill in the form, then press 确认办理 on the confirmation page: (its text, receipt)."""
    shown = review(client, url, data)
    page = shown.get_data(as_text=True)
    assert shown.status_code == 200, page
    assert "确认办理" in page
    return page, client.post(url, data={**hidden_fields(page), "step": "confirm"})


def text(reply) -> str:
    """The reply's body as text."""
    return reply.get_data(as_text=True)

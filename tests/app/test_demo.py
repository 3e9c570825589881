"""`flask demo load`: every card type, the seed's places and kiosks, one login per role,
one request of each process waiting in someone's inbox, a ledger that checks out, and a
second run that changes nothing."""

from sqlalchemy import func, select, text

from app.demo import KIOSKS, LOGINS
from app.extensions import db
from ledger.check import check_ledger
from ledger.models.cards import Card, CardType
from ledger.models.merchants import Kiosk, KioskKind, Merchant
from workflows.identity import Role, User
from workflows.models import HumanTask


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_demo_load_is_complete_and_idempotent(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "load"])
    assert first.exit_code == 0, first.output
    assert "已载入演示数据" in first.output
    for username, *_ in LOGINS:
        assert username in first.output
    with app.app_context():
        assert {c.card_type for c in db.session.scalars(select(Card))} == set(CardType)
        assert count(Kiosk, Kiosk.kind == KioskKind.SELF_SERVICE) == sum(n for *_, n in KIOSKS)
        assert count(Kiosk, Kiosk.kind == KioskKind.REISSUE) == 3
        places = set(db.session.scalars(select(Merchant.location)))
        assert {"第一食堂", "第二食堂", "第三食堂", "图书馆", "校医院"} <= places
        roles = {g.role for u in db.session.scalars(select(User)).unique() for g in u.grants}
        assert roles == set(Role)
        assert check_ledger(db.session) == []
        cards = count(Card)
        waiting = db.session.execute(
            select(HumanTask.process_id, HumanTask.task_name).where(HumanTask.state == "open")
        ).all()
        assert sorted(waiting) == [
            ("card_reissue", "counter"), ("forced_termination", "it_review"),
            ("merchant_onboarding", "supervising_review"),
            ("temporary_card", "dept_certify"), ("temporary_card_extension", "dept_review"),
        ]  # fmt: skip
    second = runner.invoke(args=["demo", "load"])
    assert second.exit_code == 0 and "未重复载入" in second.output
    with app.app_context():
        assert count(Card) == cards


def test_ledger_check_command_passes_on_demo_data(app):
    runner = app.test_cli_runner()
    runner.invoke(args=["demo", "load"])
    result = runner.invoke(args=["ledger", "check"])
    assert result.exit_code == 0 and "账务核对通过" in result.output


def test_ledger_check_command_reports_a_tampered_balance(app):
    runner = app.test_cli_runner()
    runner.invoke(args=["demo", "load"])
    with app.app_context():
        db.session.execute(text("UPDATE ledger_accounts SET balance = balance + 1 WHERE id = 1"))
        db.session.commit()
    result = runner.invoke(args=["ledger", "check"])
    assert result.exit_code == 1
    assert '"account_id": 1' in result.output and "差异" in result.output

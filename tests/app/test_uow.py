"""The unit of work: one commit, or a rollback of everything."""

import logging

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.uow import after_commit, unit_of_work
from ledger.errors import Conflict
from ledger.models.people import Department, DepartmentKind


def _add_department(code):
    db.session.add(Department(code=code, name_zh=code, name_en=code, kind=DepartmentKind.UNIT))
    db.session.flush()


def _codes(app):
    with app.app_context():
        return set(db.session.scalars(select(Department.code)))


def test_commits_at_the_end(app):
    with app.app_context(), unit_of_work():
        _add_department("A")
    assert _codes(app) == {"A"}


def test_rolls_back_on_any_exception(app):
    with app.app_context(), pytest.raises(RuntimeError), unit_of_work():
        _add_department("A")
        raise RuntimeError("boom")
    assert _codes(app) == set()


def test_nested_units_commit_once_at_the_outermost(app):
    with app.app_context(), pytest.raises(RuntimeError), unit_of_work():
        with unit_of_work():
            _add_department("A")
        _add_department("B")
        raise RuntimeError("boom")
    assert _codes(app) == set()


def test_a_failed_commit_rolls_back(app):
    with app.app_context():
        with unit_of_work():
            _add_department("A")
        with pytest.raises(IntegrityError), unit_of_work():
            db.session.add(Department(code="A", name_zh="A", name_en="A", kind=DepartmentKind.UNIT))
        assert db.session.scalar(select(func.count()).select_from(Department)) == 1


def test_after_commit_runs_only_after_a_commit(app):
    calls = []
    with app.app_context():
        with unit_of_work():
            after_commit(lambda: calls.append("sent"))
            assert calls == []
        assert calls == ["sent"]
        with pytest.raises(RuntimeError), unit_of_work():
            after_commit(lambda: calls.append("never"))
            raise RuntimeError("boom")
        with unit_of_work():
            pass
    assert calls == ["sent"]


def test_a_failing_after_commit_callback_is_logged_not_raised(app, caplog):
    def explode():
        raise OSError("mail server down")

    with app.app_context(), caplog.at_level(logging.ERROR, logger="app.uow"), unit_of_work():
        _add_department("A")
        after_commit(explode)
    assert "after-commit callback" in caplog.text
    assert _codes(app) == {"A"}


def test_works_as_a_view_decorator(app, client):
    @unit_of_work()
    def create(code):
        _add_department(code)
        if code == "BAD":
            raise Conflict(reason_zh="不行", reason_en="no")
        return "ok"

    app.add_url_rule("/create/<code>", view_func=create, methods=["POST"])
    assert client.post("/create/V").status_code == 200
    assert client.post("/create/BAD").status_code == 409
    assert _codes(app) == {"V"}

"""Fixtures for the web app.

- `app`: the testing settings on a fresh SQLite database in memory (one connection shared
  through StaticPool) with every table created. No app context stays pushed: a test that
  touches the database opens one with ``with app.app_context():``.
- `app_config`: overrides for `app`; a test module redefines it (``{"WTF_CSRF_ENABLED": True}``).
- `client`, and `login(client, username, password, next=None)` that posts the login form.
- `make_user(...)` and `make_department(...)`: factories returning committed, detached rows.
"""

import itertools
from urllib.parse import quote

import pytest
from sqlalchemy import select

from app import create_app
from app.auth.accounts import create_user, parse_role_spec
from app.extensions import db
from app.uow import unit_of_work
from ledger.base import Base
from ledger.models.people import Department, DepartmentKind
from workflows.identity import User

DEFAULT_PASSWORD = "correct horse battery"
_seq = itertools.count(1)


@pytest.fixture
def app_config():
    """Setting overrides for `app`; redefine this fixture in a module to change them."""
    return {}


@pytest.fixture
def app(app_config):
    """An app on its own in-memory SQLite database, with every table created."""
    settings = {"APP_CONFIG": "testing", "SQLALCHEMY_DATABASE_URI": "sqlite://"}
    app = create_app({**settings, **app_config})
    with app.app_context():
        Base.metadata.create_all(db.engine)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def client(app):
    """A test client of `app`."""
    return app.test_client()


@pytest.fixture
def login():
    """`login(client, username, password, next=None)`: post the login form, return the reply."""

    def log_in(client, username, password=DEFAULT_PASSWORD, next=None, **kwargs):
        url = "/login" + (f"?next={quote(next, safe='')}" if next is not None else "")
        return client.post(url, data={"username": username, "password": password}, **kwargs)

    return log_in


def _detached(model, key):
    """`model` row `key` freshly loaded (eager relationships included), then detached."""
    db.session.expunge_all()
    row = db.session.get(model, key)
    db.session.expunge(row)
    return row


def _ensure_department(code: str) -> Department:
    department = db.session.scalar(select(Department).where(Department.code == code))
    if department is None:
        department = Department(
            code=code, name_zh=f"{code}学院", name_en=f"College {code}", kind=DepartmentKind.COLLEGE
        )
        db.session.add(department)
        db.session.flush()
    return department


@pytest.fixture
def make_department(app):
    """`make_department(code=None)`: a committed department (existing one if the code is)."""

    def make(code: str | None = None) -> Department:
        with app.app_context():
            with unit_of_work():
                department_id = _ensure_department(code or f"D{next(_seq):03d}").id
            return _detached(Department, department_id)

    return make


@pytest.fixture
def make_user(app):
    """`make_user(username=None, password=DEFAULT_PASSWORD, roles=(), display_name=None,
    active=True)`: a committed user. Roles are 'role' or 'role:DEPT_CODE'; a department code
    not yet known is created."""

    def make(
        username: str | None = None,
        password: str = DEFAULT_PASSWORD,
        roles=(),
        display_name: str | None = None,
        active: bool = True,
    ) -> User:
        specs = [parse_role_spec(role) for role in roles]
        with app.app_context():
            with unit_of_work():
                for _, code in specs:
                    if code:
                        _ensure_department(code)
                user = create_user(
                    db.session, username or f"user{next(_seq)}", password, display_name, specs
                )
                user.active = active
            return _detached(User, user.id)

    return make

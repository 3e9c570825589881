"""Fixtures for the web pages: an app on a copy of the demo database, and clients logged in
as the demo logins (applicant, approver, cardoffice, settlement, supervisor, itcenter, hr,
registrar, logistics, admin; password `demo2026`).

The demo database (every table, the demo data, the BPMN files deployed and one request of
each process filed) is built once per test run and copied for each test, so a test may
commit freely.
"""

import shutil

import pytest
import time_machine

from app import create_app
from app.demo import DEMO_PASSWORD
from app.extensions import db
from app.uow import unit_of_work
from tests.demo_support import fill_with_demo
from tests.web.api_support import api_as, device_as  # noqa: F401  (the API tests' fixtures)
from tests.web.browser_support import (  # noqa: F401  (the browser tests' marker and fixtures)
    browser,
    live_server,
    page,
)
from tests.web.counter_support import SATURDAY, WEEKDAYS, next_day_at


def _web_app(path, **overrides):
    settings = {"APP_CONFIG": "testing", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"}
    return create_app({**settings, **overrides})


@pytest.fixture(scope="session")
def demo_database(tmp_path_factory):
    """A SQLite file holding the demo data and the demo requests."""
    path = tmp_path_factory.mktemp("demo") / "demo.sqlite3"
    fill_with_demo(_web_app(path))
    return path


@pytest.fixture
def web_config():
    """Setting overrides for `web`; a module redefines it to turn CSRF on, say."""
    return {}


@pytest.fixture
def web(demo_database, tmp_path, web_config):
    """The app on this test's own copy of the demo database."""
    path = tmp_path / "web.sqlite3"
    shutil.copy(demo_database, path)
    app = _web_app(path, **web_config)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def as_user(web):
    """`as_user("approver")`: a test client logged in as that demo login."""

    def client_of(username: str, password: str = DEMO_PASSWORD):
        client = web.test_client()
        reply = client.post("/login", data={"username": username, "password": password})
        assert reply.status_code == 302, f"{username} could not log in"
        return client

    return client_of


@pytest.fixture
def in_db(web):
    """`in_db(fn)`: call fn() inside an app context and a unit of work, return its result."""

    def run(fn):
        with web.app_context(), unit_of_work():
            return fn()

    return run


@pytest.fixture
def counter_open(web):
    """R09: a weekday at 10:00, the counter open (after the demo database was built)."""
    with time_machine.travel(next_day_at(WEEKDAYS, 10), tick=False):
        yield


@pytest.fixture
def counter_closed(web):
    """R09: a Saturday at 10:00, no cash top-ups."""
    with time_machine.travel(next_day_at(SATURDAY, 10), tick=False):
        yield

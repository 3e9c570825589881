"""Database fixtures shared by every test: SQLite and PostgreSQL engines, a `db_session`
rolled back after each test, a ledger context `ctx` and the factories in `make`.

PostgreSQL tests use TEST_DATABASE_URL (default: postgres@127.0.0.1:5432/test) to create a
database of their own. Outside CI they skip when no server answers; with CI=true they fail.
"""

import os
import uuid
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

import ledger.models  # noqa: F401  (registers every table)
import workflows.models  # noqa: F401  (and the engine's)
from ledger.base import Base
from ledger.config import LedgerConfig
from ledger.context import Ctx
from ledger.db import configure_engine
from tests.factories import Factories

PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SHANGHAI = ZoneInfo("Asia/Shanghai")
# A Friday morning, the counter open (R09).
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=SHANGHAI)
# Cheap password hashing for tests; production keeps the default cost.
TEST_CONFIG = LedgerConfig(password_cost=2**4)


def _pg_admin():
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        admin.dispose()
        reason = f"PostgreSQL is not reachable at {PG_URL}: {exc.orig}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return admin


@contextmanager
def new_pg_database(prefix: str):
    """The URL of a new PostgreSQL database named `prefix` and a random suffix, dropped
    (whoever is still connected) afterwards."""
    admin = _pg_admin()
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_url():
    """The URL of a PostgreSQL database made for this test run, dropped at its end."""
    with new_pg_database("cardoffice_test") as url:
        yield url


def _fresh_schema(engine):
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    return engine


@pytest.fixture(scope="session")
def postgresql_engine(pg_url):
    engine = _fresh_schema(create_engine(pg_url, pool_size=10))
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def sqlite_engine(tmp_path_factory):
    path = tmp_path_factory.mktemp("sqlite") / "ledger.sqlite3"
    engine = _fresh_schema(configure_engine(create_engine(f"sqlite:///{path}")))
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request):
    """Each test that uses it runs once on SQLite and once on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_engine")


@pytest.fixture
def committed_engine(engine):
    """For tests that commit (concurrency): the schema is rebuilt afterwards."""
    yield engine
    engine.dispose()
    _fresh_schema(engine)


@pytest.fixture
def db_session(engine):
    """A session inside a transaction that is rolled back after the test."""
    with engine.connect() as connection:
        outer = connection.begin()
        session = Session(bind=connection, join_transaction_mode="create_savepoint")
        yield session
        session.close()
        outer.rollback()


@pytest.fixture
def ctx(db_session):
    """A clerk at the counter on a Friday morning."""
    return Ctx(session=db_session, actor="test:clerk", now=NOW, config=TEST_CONFIG)


@pytest.fixture
def at(ctx):
    """`at(datetime)` gives the same context at another moment (naive means Shanghai)."""

    def moved(moment: datetime, actor: str | None = None) -> Ctx:
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=SHANGHAI)
        return replace(ctx, now=moment, actor=actor or ctx.actor)

    return moved


@pytest.fixture
def make(ctx):
    """Factories: make.person(...), make.card(...), make.merchant(...), make.terminal(...)."""
    return Factories(ctx)

"""The initial migration builds the same schema as the models, triggers included, on SQLite
and on PostgreSQL, and `flask db check` finds nothing left to migrate."""

import uuid

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from app import create_app
from app.extensions import db
from ledger.base import Base
from tests.conftest import PG_URL, _pg_admin


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database(request, tmp_path):
    """The URL of an empty database of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/migrated.sqlite3"
        return
    admin = _pg_admin()
    name = f"cardoffice_migrate_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


TRIGGERS = {
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'trigger'",
    "postgresql": "SELECT tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE NOT t.tgisinternal AND n.nspname = current_schema()",
}


def triggers(engine) -> list[str]:
    """The names of the triggers in the database's current schema."""
    with engine.connect() as conn:
        return sorted(conn.execute(text(TRIGGERS[engine.dialect.name])).scalars())


def schema(engine) -> dict:
    """Tables with their columns, indexes and named constraints, and the triggers."""
    inspector = inspect(engine)
    return {"triggers": triggers(engine)} | {
        table: (
            sorted(c["name"] for c in inspector.get_columns(table)),
            sorted(i["name"] for i in inspector.get_indexes(table)),
            sorted(c["name"] for c in inspector.get_check_constraints(table)),
            sorted(c["name"] for c in inspector.get_unique_constraints(table)),
            sorted(fk["name"] or "" for fk in inspector.get_foreign_keys(table)),
        )
        for table in inspector.get_table_names()
        if table != "alembic_version"
    }


def test_migration_matches_the_models_and_installs_the_triggers(empty_database, tmp_path):
    app = create_app({"APP_CONFIG": "testing", "SQLALCHEMY_DATABASE_URI": empty_database})
    with app.app_context():
        upgrade()
        migrated = schema(db.engine)
        db.engine.dispose()
    reference = create_engine(
        empty_database if "postgresql" in empty_database else f"sqlite:///{tmp_path}/ref.sqlite3"
    )
    if "postgresql" in empty_database:
        with reference.begin() as conn:
            conn.execute(text("CREATE SCHEMA reference"))
            conn.execute(text("SET search_path TO reference"))
            Base.metadata.create_all(conn)
        reference.dispose()
        reference = create_engine(
            empty_database, connect_args={"options": "-c search_path=reference"}
        )
    else:
        Base.metadata.create_all(reference)
    assert "trg_postings_append_only" in migrated["triggers"] or (
        "trg_postings_no_delete" in migrated["triggers"]
    )
    assert migrated == schema(reference)
    reference.dispose()

"""`flask db upgrade` on a database in use keeps its data: a PostgreSQL database migrated to an
older revision and filled with the demo (cardholders, cards and their journal, merchants,
logins, one request of each process with its tasks and audit trail) is upgraded to the head;
every row is still there, unchanged, and the app works on it (ledger check, audit chains, the
counter's balance, the approver's inbox, a scheduled job).

The rows are the current code's demo, written through the models into a schema of their own
and copied, column by column, into the tables the older revision has: what that revision's
code would have written, with no need to run old code."""

from datetime import UTC, datetime

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.orm import Session

from app import create_app
from app.demo import DEMO_PASSWORD
from app.demo_requests import load_demo_with_requests
from app.engine import engine_config
from app.extensions import db
from ledger.base import Base
from ledger.queries import card_account_of
from tests.conftest import new_pg_database

pytestmark = pytest.mark.postgres

#: device keys: before the longer idempotency keys, the audit's request ids and the job runs.
OLD_REVISION = "5b0e9d7c2a41"


def fill_as_at_old_revision(app, uri: str) -> None:
    """Write the demo into schema `demo`, copy it into the older revision's tables in
    `public`, move their id sequences past the copied ids, and drop `demo`."""
    engine = create_engine(uri)
    with engine.begin() as conn:
        conn.execute(text("CREATE SCHEMA demo"))
    demo = create_engine(uri, connect_args={"options": "-c search_path=demo"})
    Base.metadata.create_all(demo)
    now = datetime.now(UTC)
    with Session(demo) as session, session.begin():
        load_demo_with_requests(session, now, app.config["BPMN_DIR"], engine_config(app))
    demo.dispose()
    inspector = inspect(engine)
    old_tables = set(inspector.get_table_names())
    with engine.begin() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name not in old_tables:
                continue
            name = table.name
            columns = ", ".join(c["name"] for c in inspector.get_columns(name))
            conn.execute(text(f"INSERT INTO {name} ({columns}) SELECT {columns} FROM demo.{name}"))
            if "id" in table.c:
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                        f"(SELECT coalesce(max(id), 0) + 1 FROM {name}), false)"
                    )
                )
        conn.execute(text("DROP SCHEMA demo CASCADE"))
    engine.dispose()


def snapshot(uri: str) -> dict[str, list[dict]]:
    """Every row of every table but alembic_version, by table, in id (or row) order."""
    engine = create_engine(uri)
    with engine.connect() as conn:
        rows = {
            name: [dict(row._mapping) for row in conn.execute(text(f"SELECT * FROM {name}"))]
            for name in inspect(conn).get_table_names()
            if name != "alembic_version"
        }
    engine.dispose()
    return {name: sorted(table, key=repr) for name, table in rows.items()}


@pytest.fixture
def upgraded():
    """(app, the rows before the upgrade, the rows after) on a database made at OLD_REVISION
    and upgraded to the head."""
    with new_pg_database("cardoffice_upgrade") as url:
        uri = url.render_as_string(hide_password=False)
        app = create_app({"APP_CONFIG": "testing", "SQLALCHEMY_DATABASE_URI": uri})
        with app.app_context():
            upgrade(revision=OLD_REVISION)
            fill_as_at_old_revision(app, uri)
            before = snapshot(uri)
            upgrade()
            after = snapshot(uri)
        yield app, before, after
        with app.app_context():
            db.engine.dispose()


def test_upgrade_keeps_every_row_and_the_app_works_on_them(upgraded):
    app, before, after = upgraded
    assert before["cards"] and before["journal_entries"] and before["audit_entries"]
    for table, rows in before.items():
        kept = [{column: row[column] for column in rows[0]} for row in after[table]] if rows else []
        assert kept == rows, table
    assert {row["request_id"] for row in after["audit_entries"]} == {None}
    assert after["job_runs"] == []

    cli = app.test_cli_runner()
    for command in (("ledger", "check"), ("workflows", "verify-audit")):
        result = cli.invoke(args=list(command))
        assert result.exit_code == 0, result.output
    expire = cli.invoke(args=["jobs", "run", "expire"])
    assert expire.exit_code == 0 and "到期临时卡 0 张" in expire.output

    (person,) = [row for row in before["people"] if row["name"] == "王建国"]
    (account,) = [row for row in before["card_accounts"] if row["person_id"] == person["id"]]
    (purse,) = [row for row in before["ledger_accounts"] if row["id"] == account["purse_id"]]
    with app.app_context():
        assert card_account_of(db.session, person["id"]).purse.balance == purse["balance"] > 0

    approver = app.test_client()
    approver.post("/login", data={"username": "approver", "password": DEMO_PASSWORD})
    inbox = approver.get("/inbox").get_data(as_text=True)
    open_tasks = [
        row
        for row in before["human_tasks"]
        if row["candidate_role"] == "dept_approver" and row["state"] == "open"
    ]
    assert open_tasks and all(row["business_key"] in inbox for row in open_tasks)

"""Backup and restore on PostgreSQL (issue 8), through `scripts/backup.sh` and
`scripts/restore.sh` as docs/backup-restore.md tells the IT centre to run them: a database
with the demo data, purchases and a decided request is dumped (`pg_dump -Fc`) and restored
into an empty database; there the ledger check and the audit chain verification pass, every
table holds the same rows, balances and audit chains are the same, the append-only triggers
refuse changes as before, and the restored database takes new purchases and decisions.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import DDL, func, select, text
from sqlalchemy.exc import DBAPIError

from app import create_app
from app.extensions import db
from ledger.base import Base
from ledger.check import check_ledger
from tests.conftest import new_pg_database
from tests.demo_support import fill_with_demo
from tests.web.api_support import ApiClient, DeviceClient, device_key_of, token_of
from tests.web.test_api_actions import CERTIFY
from tests.web.test_api_terminals import PURCHASES
from workflows.audit import verify_chains

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path("/usr/lib/postgresql/15/bin")
STUDENT = "孙浩然"
FLASK = str(Path(sys.executable).parent / "flask")


def _url(url) -> str:
    return url.render_as_string(hide_password=False)


def _app(url):
    return create_app({"APP_CONFIG": "testing", "SQLALCHEMY_DATABASE_URI": _url(url)})


def _run(command: list[str], url, **env) -> subprocess.CompletedProcess:
    """Run a script of scripts/ as cron or the IT centre would: production settings, the
    database in DATABASE_URL, PostgreSQL's programs on the PATH."""
    path = f"{PG_BIN}{os.pathsep}{os.environ['PATH']}" if PG_BIN.is_dir() else os.environ["PATH"]
    settings = {
        "PATH": path, "DATABASE_URL": _url(url), "APP_CONFIG": "production",
        "SECRET_KEY": "backup-test-secret", "FLASK": FLASK,
    }  # fmt: skip
    return subprocess.run(
        command, cwd=ROOT, env=os.environ | settings | env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


def _activity(app, round_: str, login: str, form: str, data: dict) -> None:
    """Purchases at a canteen till (idempotency keys named after `round_`), and `login`
    deciding their task of form `form` (audit rows)."""
    key, location = device_key_of(app, terminal="CANTEEN1-01")
    till = DeviceClient(app.test_client(), key, location)
    with app.app_context():
        card = db.session.scalar(
            text("SELECT c.card_no FROM cards c JOIN people p ON p.id = c.person_id "
                 "WHERE p.name = :name AND c.state = 'active'"), {"name": STUDENT},
        )  # fmt: skip
    for amount in (120, 250, 180):
        reply = till.send(
            PURCHASES, {"card_no": card, "amount": amount}, key=f"{round_}-meal-{amount}"
        )
        assert reply.status_code == 201, reply.json
    decider = ApiClient(app.test_client(), token_of(app, login))
    (task,) = [t for t in decider.get("/api/v1/tasks").json["tasks"] if t["form"] == form]
    decided = decider.post(f"/api/v1/tasks/{task['id']}/decide", json={"data": data})
    assert decided.status_code == 200, decided.json


@pytest.fixture(scope="module")
def original():
    """(the app, its URL): the demo data, the demo requests, some activity, at the schema's
    head revision."""
    with new_pg_database("cardoffice_backup") as url:
        app = _app(url)
        fill_with_demo(app)
        _activity(app, "before", "approver", "department_certification", CERTIFY)
        stamped = _run([FLASK, "--app", "app", "db", "stamp", "head"], url)
        assert stamped.returncode == 0, stamped.stderr
        yield app, url
        with app.app_context():
            db.engine.dispose()


def _snapshot(app) -> dict:
    """Every table's row count, every account's balance, every audit chain's head, the
    schema's revision and the triggers."""
    with app.app_context():
        session = db.session
        counts = {
            table.name: session.scalar(select(func.count()).select_from(table))
            for table in Base.metadata.sorted_tables
        }
        snapshot = {
            "counts": counts,
            "balances": session.execute(
                text("SELECT id, balance FROM ledger_accounts ORDER BY id")
            ).all(),
            "audit": session.execute(
                text(
                    "SELECT instance_id, max(seq), max(hash) FROM audit_entries "
                    "GROUP BY instance_id ORDER BY instance_id"
                )
            ).all(),
            "revision": session.scalar(text("SELECT version_num FROM alembic_version")),
            "triggers": session.scalars(
                text(
                    "SELECT tgrelid::regclass || '.' || tgname FROM pg_trigger "
                    "WHERE NOT tgisinternal ORDER BY 1"
                )
            ).all(),
        }
        session.rollback()
        return snapshot


def _refused(app, statement: str) -> bool:
    """Whether the database refuses `statement` (rolled back either way)."""
    with app.app_context(), db.engine.connect() as conn:
        try:
            conn.execute(DDL(statement))
        except DBAPIError as exc:
            return "append-only" in str(exc)
        finally:
            conn.rollback()
    return False


def _backup(original_url, backups: Path) -> Path:
    reply = _run(["scripts/backup.sh"], original_url, BACKUP_DIR=str(backups))
    assert reply.returncode == 0, reply.stderr
    return Path(reply.stdout.strip())


def test_a_backup_restored_into_an_empty_database_is_whole_and_checked(original, tmp_path):
    app, url = original
    started = time.monotonic()
    archive = _backup(url, tmp_path)
    dumped = time.monotonic()
    with new_pg_database("cardoffice_restored") as target:
        restored = _run(["scripts/restore.sh", str(archive)], target)
        assert restored.returncode == 0, restored.stdout + restored.stderr
        done = time.monotonic()
        assert "账务核对通过" in restored.stdout and "审计链校验通过" in restored.stdout
        copy = _app(target)
        before, after = _snapshot(app), _snapshot(copy)
        assert after == before
        assert before["counts"]["audit_entries"] > 0 and before["counts"]["postings"] > 0
        assert "audit_entries.trg_audit_entries_append_only" in before["triggers"]
        assert _refused(copy, "UPDATE audit_entries SET comment = 'changed'")
        assert _refused(copy, "DELETE FROM postings")
        # The sequences came back too: new rows get new ids.
        _activity(copy, "after", "cardoffice", "decision", {"decision": "approve"})
        with copy.app_context():
            assert check_ledger(db.session) == [] and verify_chains(db.session) == []
        with copy.app_context():
            db.engine.dispose()
    size = archive.stat().st_size
    print(
        f"backup {dumped - started:.1f} s ({size / 1024:.0f} KiB, "
        f"{sum(before['counts'].values())} rows); restore and checks {done - dumped:.1f} s"
    )


def test_old_backups_are_deleted_and_recent_ones_kept(original, tmp_path):
    _app_, url = original
    old, recent = tmp_path / "cardoffice-20250101T000000Z.dump", tmp_path / "notes.dump"
    for path in (old, recent):
        path.write_bytes(b"x")
    aged = time.time() - 40 * 86400
    os.utime(old, (aged, aged))
    os.utime(recent, (aged, aged))
    archive = _backup(url, tmp_path)
    assert sorted(tmp_path.iterdir()) == sorted([archive, recent])


def test_a_restore_refuses_a_database_that_is_not_empty(original, tmp_path):
    app, url = original
    archive = _backup(url, tmp_path)
    before = _snapshot(app)
    refused = _run(["scripts/restore.sh", str(archive)], url)
    assert refused.returncode == 2 and "refusing to restore" in refused.stderr
    assert _snapshot(app) == before

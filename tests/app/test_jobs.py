"""`flask jobs run NAME | list`: each scheduled job runs at most once per campus day, however
many nodes start it; a failed or killed run leaves its day to the next attempt."""

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from app import create_app
from app.cli import jobs
from app.extensions import db
from ledger.base import Base
from ledger.context import Ctx
from ledger.models.cards import Card, CardEvent, CardState
from ledger.models.jobs import JobRun
from ledger.models.merchants import Settlement
from ledger.models.people import PersonCategory
from ledger.ops.cards import issue_card
from tests.conftest import TEST_CONFIG, new_pg_database
from tests.factories import Factories

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=list(args))


def past_due_card(session, days_ago: int = 10) -> str:
    """A temporary card issued `days_ago` days ago that expired the day after: its number."""
    ctx = Ctx(session, "test", datetime.now(UTC) - timedelta(days=days_ago), TEST_CONFIG)
    person = Factories(ctx).person(PersonCategory.OTHER)
    return issue_card(ctx, person.id, valid_until=ctx.today + timedelta(days=1))["card_no"]


def add_past_due_card(app) -> str:
    with app.app_context():
        card_no = past_due_card(db.session)
        db.session.commit()
    return card_no


def card_state(app, card_no: str) -> CardState:
    with app.app_context():
        return db.session.scalar(select(Card.state).where(Card.card_no == card_no))


def job_rows(app) -> list[tuple[str, str]]:
    with app.app_context():
        return [tuple(row) for row in db.session.execute(select(JobRun.job, JobRun.period))]


def test_r04_expire_runs_once_a_day_and_a_second_run_says_so(cli, app):
    first_card = add_past_due_card(app)
    first = cli("jobs", "run", "expire")
    assert first.exit_code == 0, first.output
    assert first.output.startswith("到期临时卡 1 张") and first_card in first.output
    assert card_state(app, first_card) == CardState.EXPIRED

    second_card = add_past_due_card(app)  # due too, but today's run has happened
    again = cli("jobs", "run", "expire")
    assert again.exit_code == 0, again.output
    assert "already ran for" in again.output and "本次不再运行" in again.output
    assert card_state(app, second_card) == CardState.ACTIVE
    today = datetime.now(UTC).astimezone(TEST_CONFIG.zone).date().isoformat()
    assert job_rows(app) == [("expire", today)]

    by_hand = cli("ledger", "expire")  # the command itself still runs whenever it is asked
    assert by_hand.output.startswith("到期临时卡 1 张") and second_card in by_hand.output


def test_r11_r22_settle_and_remind_each_run_once_a_day(cli, app):
    with app.app_context():
        ctx = Ctx(db.session, "test", datetime.now(UTC) - timedelta(days=10), TEST_CONFIG)
        Factories(ctx).merchant()  # admitted ten days ago: its first week has run
        db.session.commit()
    settled = cli("jobs", "run", "settle")
    assert settled.exit_code == 0 and "已结算商户 1 户" in settled.output
    assert "reminded of 0 card(s)" in cli("jobs", "run", "remind").output
    for name in ("settle", "remind"):
        assert "already ran for" in cli("jobs", "run", name).output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Settlement)) == 1
    assert sorted(job for job, _ in job_rows(app)) == ["remind", "settle"]


def test_a_day_is_the_campus_day(app):
    """00:30 and 23:00 in Shanghai are the same day whatever the UTC date; 00:30 the next
    morning is a new one."""
    with app.app_context():
        assert jobs.run_job("remind", datetime(2026, 12, 6, 16, 30, tzinfo=UTC))[0]
        assert not jobs.run_job("remind", datetime(2026, 12, 7, 15, 0, tzinfo=UTC))[0]
        assert jobs.run_job("remind", datetime(2026, 12, 7, 16, 30, tzinfo=UTC))[0]
    assert job_rows(app) == [("remind", "2026-12-07"), ("remind", "2026-12-08")]


def test_a_failed_run_leaves_nothing_done_and_its_day_unclaimed(app, monkeypatch):
    card_no = add_past_due_card(app)

    def expire_then_fail(now):
        jobs.expire_job(now)  # the cards are expired in the transaction ...
        raise RuntimeError("the node fails mid-job")  # ... which then rolls back

    monkeypatch.setitem(jobs.JOBS, "expire", jobs.Job(expire_then_fail, "", ""))
    with app.app_context(), pytest.raises(RuntimeError):
        jobs.run_job("expire", datetime.now(UTC))
    assert card_state(app, card_no) == CardState.ACTIVE and job_rows(app) == []

    monkeypatch.undo()
    with app.app_context():
        assert jobs.run_job("expire", datetime.now(UTC))[0]
    assert card_state(app, card_no) == CardState.EXPIRED and len(job_rows(app)) == 1


def test_list_shows_the_schedule_and_the_latest_runs(cli):
    assert "尚无运行记录" in cli("jobs", "list").output
    cli("jobs", "run", "expire")
    listed = cli("jobs", "list").output
    assert "settle  daily 01:00" in listed
    (run_line,) = [line for line in listed.splitlines() if line.startswith("expire  20")]
    assert "到期临时卡 0 张" in run_line and "尚无运行记录" not in listed


# PostgreSQL: several `flask jobs run expire` processes, as several nodes' timers start them.


@pytest.fixture
def pg_app():
    """An app on a new PostgreSQL database with every table and one past-due temporary card;
    yields (app, database URL, card number)."""
    with new_pg_database("cardoffice_jobs") as url:
        uri = url.render_as_string(hide_password=False)
        app = create_app({"APP_CONFIG": "testing", "SQLALCHEMY_DATABASE_URI": uri})
        with app.app_context():
            Base.metadata.create_all(db.engine)
            card_no = past_due_card(db.session)
            db.session.commit()
        yield app, uri, card_no
        with app.app_context():
            db.engine.dispose()


def start_nodes(uri: str, count: int) -> dict[str, subprocess.Popen]:
    """`flask jobs run expire` in `count` processes with production settings, each connecting
    as application_name node<i> so that pg_stat_activity tells them apart."""
    procs = {}
    for i in range(count):
        env = os.environ | {
            "APP_CONFIG": "production",
            "SECRET_KEY": "jobs-test",
            "DATABASE_URL": f"{uri}?application_name=node{i}",
        }
        procs[f"node{i}"] = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "app", "jobs", "run", "expire"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
    return procs


def waiting(conn, count: int) -> dict[str, str]:
    """Wait until `count` nodes wait on a lock: application name -> what they wait for
    ('relation': a table lock; 'transactionid': another transaction, here on the unique key)."""
    query = text(
        "SELECT application_name, wait_event FROM pg_stat_activity "
        "WHERE application_name LIKE 'node%' AND wait_event_type = 'Lock'"
    )
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        conn.execute(text("SELECT pg_stat_clear_snapshot()"))  # else fixed for the transaction
        rows = dict(conn.execute(query).all())
        if len(rows) == count:
            return rows
        time.sleep(0.1)
    raise AssertionError(f"nodes did not all wait: {rows}")


def finish(procs: dict[str, subprocess.Popen]) -> dict[str, tuple[int, str]]:
    """Each node's exit code and output."""
    results = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=60)
        results[name] = (proc.returncode, out + err)
    return results


def expiry_events(app, card_no: str) -> int:
    with app.app_context():
        query = (
            select(func.count())
            .select_from(CardEvent)
            .join(Card, CardEvent.card_id == Card.id)
            .where(Card.card_no == card_no, CardEvent.reason == "expired")
        )
        return db.session.scalar(query)


@pytest.mark.postgres
def test_r04_three_nodes_starting_expire_at_once_run_it_once(pg_app):
    """The test holds job_runs' table lock until all three wait for it, then lets them race."""
    app, uri, card_no = pg_app
    admin = create_engine(uri)
    with admin.connect() as conn:
        conn.execute(text("LOCK TABLE job_runs IN EXCLUSIVE MODE"))
        procs = start_nodes(uri, 3)
        assert set(waiting(conn, 3).values()) == {"relation"}
        conn.rollback()  # all three go at once
    admin.dispose()
    results = finish(procs)
    assert [code for code, _ in results.values()] == [0, 0, 0], results
    outputs = sorted(output for _, output in results.values())
    assert sum("到期临时卡 1 张" in output for output in outputs) == 1, outputs
    assert sum("already ran for" in output for output in outputs) == 2, outputs
    assert len(job_rows(app)) == 1 and expiry_events(app, card_no) == 1
    assert card_state(app, card_no) == CardState.EXPIRED


@pytest.mark.postgres
def test_r04_a_node_killed_mid_job_leaves_the_day_to_another(pg_app):
    """The test locks card_events: the node that claimed the day stops there, mid-job, with the
    others waiting on its claim. It is killed (-9); then one of the others does the work."""
    app, uri, card_no = pg_app
    admin = create_engine(uri)
    with admin.connect() as conn:
        conn.execute(text("LOCK TABLE card_events IN EXCLUSIVE MODE"))
        procs = start_nodes(uri, 3)
        waits = waiting(conn, 3)
        assert sorted(waits.values()) == ["relation", "transactionid", "transactionid"], waits
        (claimer,) = [name for name, event in waits.items() if event == "relation"]
        procs[claimer].send_signal(signal.SIGKILL)
        procs[claimer].wait(timeout=10)
        conn.rollback()
    admin.dispose()
    results = finish(procs)
    assert results.pop(claimer)[0] == -signal.SIGKILL
    assert [code for code, _ in results.values()] == [0, 0], results
    outputs = [output for _, output in results.values()]
    assert sum("到期临时卡 1 张" in output for output in outputs) == 1, outputs
    assert sum("already ran for" in output for output in outputs) == 1, outputs
    assert len(job_rows(app)) == 1 and expiry_events(app, card_no) == 1

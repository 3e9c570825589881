"""Observability: each request's id (X-Request-Id) in its response, its log lines (JSON or
text) and the audit rows it writes; /metrics with the request and database figures, for whom
it is open; /healthz and /readyz; gunicorn workers' counts added up in multiprocess mode."""

import io
import json
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from flask_login import login_required
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select, text

from app import create_app
from app.config import ConfigError
from app.demo import DEMO_PASSWORD
from app.extensions import db
from app.observability.dbmetrics import JournalTally
from app.observability.logs import JsonFormatter, ObservabilityHandler, TextFormatter
from app.uow import unit_of_work
from ledger.context import Ctx
from ledger.models.cards import Card, CardState
from ledger.models.journal import JournalEntry
from ledger.ops.money import TopUpMethod, top_up
from tests.conftest import new_pg_database
from tests.demo_support import fill_with_demo
from workflows.audit import verify_chains
from workflows.models import AuditEntry, HumanTask, Incident, ProcessInstance, TaskState

REPO = Path(__file__).resolve().parents[2]
HEX_ID = re.compile(r"[0-9a-f]{32}")
CERTIFY = {"decision": "approve", "certified": "true", "comment": "均为本院聘用人员"}


# --- fixtures -----------------------------------------------------------------------------


def build_demo(uri: str) -> None:
    """Every table, the demo data and one demo request of each process, at `uri`."""
    fill_with_demo(create_app({"APP_CONFIG": "testing", "SQLALCHEMY_DATABASE_URI": uri}))


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory):
    """A SQLite file with the demo, built once for the module."""
    path = tmp_path_factory.mktemp("observability") / "demo.sqlite3"
    build_demo(f"sqlite:///{path}")
    return path


@pytest.fixture
def make_web(demo_file, tmp_path):
    """`make_web(**overrides)`: an app on this test's own copy of the demo database."""
    apps = []

    def make(**overrides):
        path = tmp_path / f"web{len(apps)}.sqlite3"
        shutil.copy(demo_file, path)
        settings = {"APP_CONFIG": "testing", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"}
        apps.append(create_app(settings | overrides))
        return apps[-1]

    yield make
    for app in apps:
        with app.app_context():
            db.engine.dispose()


def logged_in(app, username: str, **headers):
    """A test client of `app` logged in as that demo login."""
    client = app.test_client()
    reply = client.post(
        "/login", data={"username": username, "password": DEMO_PASSWORD}, headers=headers
    )
    assert reply.status_code == 302
    return client


def in_app(app, fn):
    """fn() in an app context and a unit of work."""
    with app.app_context(), unit_of_work():
        return fn()


def app_handlers() -> list[logging.Handler]:
    """The app's log handlers on the root logger."""
    return [h for h in logging.getLogger().handlers if isinstance(h, ObservabilityHandler)]


@pytest.fixture
def log_lines(app):
    """`log_lines()`: the lines the log handler of `app` wrote since the test began."""
    handlers = app_handlers()
    assert len(handlers) == 1, "one app log handler on the root logger"
    buffer = io.StringIO()
    previous = handlers[0].setStream(buffer)
    yield lambda: buffer.getvalue().splitlines()
    handlers[0].setStream(previous)


def scrape(client, **headers) -> dict[tuple, float]:
    """/metrics as {(sample name, (sorted label items)): value}."""
    reply = client.get("/metrics", headers=headers)
    assert reply.status_code == 200, reply.get_data(as_text=True)
    return parse(reply.get_data(as_text=True))


def parse(exposition: str) -> dict[tuple, float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def by_label(samples: dict, name: str, label: str, nonzero: bool = False) -> dict[str, float]:
    """The values of sample `name` by the value of its one label `label` (only those not 0)."""
    found = {dict(labels)[label]: v for (n, labels), v in samples.items() if n == name}
    return {key: v for key, v in found.items() if v or not nonzero}


def journal_by_kind(app) -> dict[str, int]:
    """The journal's entries by kind, counted plainly."""
    query = select(JournalEntry.kind, func.count()).group_by(JournalEntry.kind)
    return {str(kind): n for kind, n in in_app(app, lambda: db.session.execute(query).all())}


# --- the request id -----------------------------------------------------------------------


@pytest.mark.parametrize("sent", ["abc-123", "Z" * 64, "a.b_c-9"])
def test_a_sane_request_id_comes_back(client, sent):
    assert client.get("/healthz", headers={"X-Request-Id": sent}).headers["X-Request-Id"] == sent


@pytest.mark.parametrize("sent", ["", "Z" * 65, "has space", "<script>", "ä-1", "a/b"])
def test_any_other_is_replaced_by_a_new_one(client, sent):
    returned = client.get("/healthz", headers={"X-Request-Id": sent}).headers["X-Request-Id"]
    assert HEX_ID.fullmatch(returned)


def test_each_request_without_one_gets_its_own_even_when_refused(client):
    first = client.get("/healthz").headers["X-Request-Id"]
    second = client.get("/no-such-page").headers["X-Request-Id"]
    assert HEX_ID.fullmatch(first) and HEX_ID.fullmatch(second) and first != second


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_a_refusal_before_the_view_carries_the_id_too(client):
    reply = client.post("/login", data={"username": "x"}, headers={"X-Request-Id": "csrf-1"})
    assert (reply.status_code, reply.headers["X-Request-Id"]) == (400, "csrf-1")
    reply = client.get("/api/v1/me", headers={"X-Request-Id": "api-1"})
    assert (reply.status_code, reply.headers["X-Request-Id"]) == (401, "api-1")


# --- logs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("app_config", [{"LOG_FORMAT": "json"}])
def test_every_log_line_of_a_request_is_json_with_its_id(app, make_user, login, log_lines):
    @app.get("/test-logs")
    @login_required
    def write_a_line():
        app.logger.warning("inside the view: %s", "详情")
        return "ok"

    @app.get("/test-open")
    def open_to_all():  # does not look at the user: the access line loads it
        return "ok"

    user = make_user("zhao")
    client = app.test_client()
    assert login(client, "zhao").status_code == 302
    reply = client.get("/test-logs", headers={"X-Request-Id": "req-42"})
    records = [json.loads(line) for line in log_lines()]  # every line is JSON
    view, access = [record for record in records if record["request_id"] == "req-42"]
    assert view["message"] == "inside the view: 详情" and view["level"] == "WARNING"
    assert view["logger"] == "app" and access["logger"] == "app.access"
    for record in (view, access):
        assert record["request_id"] == reply.headers["X-Request-Id"]
        assert (record["method"], record["path"]) == ("GET", "/test-logs")
        assert record["user_id"] == user.id
        assert datetime.fromisoformat(record["time"]).tzinfo is not None
    assert access["status"] == 200 and 0 <= access["duration_ms"] < 5000
    client.get("/test-open", headers={"X-Request-Id": "req-43"})
    app.test_client().get("/test-open", headers={"X-Request-Id": "req-44"})
    lines = {line["request_id"]: line for line in map(json.loads, log_lines())}
    assert lines["req-43"]["user_id"] == user.id and "user_id" not in lines["req-44"]


def test_text_logs_carry_the_request_id_too(client, log_lines):
    client.get("/healthz", headers={"X-Request-Id": "txt-1"})
    client.get("/no-such-page", headers={"X-Request-Id": "txt-2"})
    pattern = r".* INFO app\.access \[txt-2\] GET /no-such-page 404 [\d.]+ms"
    assert re.fullmatch(pattern, log_lines()[-1])
    assert not [line for line in log_lines() if "txt-1" in line]  # probes log at DEBUG


def test_production_logs_json_unless_the_environment_says_text(monkeypatch):
    settings = {"APP_CONFIG": "production", "SQLALCHEMY_DATABASE_URI": "sqlite://",
                "SECRET_KEY": "s" * 32, "DEPLOY_BPMN_ON_START": False}  # fmt: skip
    monkeypatch.delenv("LOG_FORMAT", raising=False)
    assert create_app(settings).config["LOG_FORMAT"] == "json"
    assert [type(h.formatter) for h in app_handlers()] == [JsonFormatter]
    monkeypatch.setenv("LOG_FORMAT", "text")
    assert create_app(settings).config["LOG_FORMAT"] == "text"
    assert create_app({"APP_CONFIG": "testing"}).config["LOG_FORMAT"] == "text"
    monkeypatch.setenv("LOG_FORMAT", "xml")
    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        create_app({"APP_CONFIG": "testing"})
    monkeypatch.delenv("LOG_FORMAT")
    assert [type(h.formatter) for h in app_handlers()] == [TextFormatter]


# --- the audit trail ----------------------------------------------------------------------


def open_task_of(app, business_key: str) -> int:
    query = select(HumanTask.id).where(
        HumanTask.business_key == business_key, HumanTask.state == TaskState.OPEN
    )
    return in_app(app, lambda: db.session.scalar(query))


def audit_rows(app) -> list[tuple[str, str | None]]:
    query = select(AuditEntry.action, AuditEntry.request_id).order_by(AuditEntry.id)
    return [tuple(row) for row in in_app(app, lambda: db.session.execute(query).all())]


def test_a_decision_on_the_web_notes_its_request_id_and_the_chains_hold(make_web):
    web = make_web()
    before = audit_rows(web)
    assert before and all(request_id is None for _action, request_id in before)  # the demo's
    task = open_task_of(web, "DEMO-LSK-1")
    reply = logged_in(web, "approver").post(
        f"/tasks/{task}/decide", data=CERTIFY, headers={"X-Request-Id": "decide-0001"}
    )
    assert reply.status_code == 302 and reply.headers["X-Request-Id"] == "decide-0001"
    after = audit_rows(web)
    assert after[: len(before)] == before
    assert ("approve", "decide-0001") in after[len(before) :]
    assert {rid for _a, rid in after[len(before) :]} == {"decide-0001"}
    assert in_app(web, lambda: verify_chains(db.session)) == []


def test_the_request_id_is_under_the_hash(make_web):
    web = make_web()
    logged_in(web, "approver").post(
        f"/tasks/{open_task_of(web, 'DEMO-LSK-1')}/decide", data=CERTIFY,
        headers={"X-Request-Id": "decide-0002"},
    )  # fmt: skip

    def forge():
        db.session.execute(text("DROP TRIGGER trg_audit_entries_no_update"))
        db.session.execute(text("UPDATE audit_entries SET request_id = 'other' "
                                "WHERE request_id = 'decide-0002'"))  # fmt: skip
        return [link.reason for link in verify_chains(db.session)]

    assert in_app(web, forge) == ["row was changed"]


# --- /metrics -----------------------------------------------------------------------------


def test_metrics_count_requests_and_read_the_database(make_web):
    web = make_web()
    client = logged_in(web, "approver")
    before = scrape(client)
    for _ in range(3):
        assert client.get("/inbox").status_code == 200
    client.get("/no-such-page")
    samples = scrape(client)

    def delta(name, **labels):
        key = (name, tuple(sorted(labels.items())))
        return samples.get(key, 0) - before.get(key, 0)

    inbox = {"method": "GET", "endpoint": "inbox.index"}
    assert delta("cardoffice_http_requests_total", status="200", **inbox) == 3
    assert delta("cardoffice_http_requests_total", endpoint="none", method="GET", status="404") == 1
    assert delta("cardoffice_http_request_duration_seconds_count", **inbox) == 3
    assert delta("cardoffice_http_request_duration_seconds_bucket", le="+Inf", **inbox) == 3
    assert 0 < delta("cardoffice_http_request_duration_seconds_sum", **inbox) < 30

    by_process = select(HumanTask.process_id, func.count()).where(HumanTask.state == TaskState.OPEN)
    expected = dict(in_app(web, lambda: db.session.execute(by_process.group_by(
        HumanTask.process_id)).all()))  # fmt: skip
    assert len(expected) == 5 and set(expected.values()) == {1}  # one demo request each
    assert by_label(samples, "cardoffice_open_tasks", "process", nonzero=True) == expected
    opened = by_label(samples, "cardoffice_open_tasks", "process")
    assert set(opened) >= set(expected) | {"card_cancellation"}  # every process, 0 or more
    assert set(by_label(samples, "cardoffice_overdue_tasks", "process").values()) == {0}
    assert by_label(samples, "cardoffice_open_incidents", "process") == {}
    journal = by_label(samples, "cardoffice_ledger_journal_entries_total", "kind", nonzero=True)
    assert journal == journal_by_kind(web) and "purchase" in journal
    assert samples[("cardoffice_timer_lag_seconds", ())] == 0
    assert samples[("cardoffice_database_up", ())] == 1


def test_overdue_tasks_late_timers_and_incidents_show(make_web):
    web = make_web()

    def add_incident():
        instance = db.session.scalar(
            select(ProcessInstance).where(ProcessInstance.business_key == "DEMO-YQ-1")
        )
        db.session.add(Incident(instance_id=instance.id, spiff_task_id="x", task_name="t",
                                action="ledger.issue_card", error="boom"))  # fmt: skip
        return instance.process_id

    process = in_app(web, add_incident)
    due = in_app(web, lambda: db.session.scalar(select(func.min(HumanTask.due_at))))
    with time_machine.travel(due + timedelta(days=1, seconds=30), tick=False):
        samples = scrape(web.test_client())
    assert by_label(samples, "cardoffice_open_incidents", "process") == {process: 1}
    overdue = by_label(samples, "cardoffice_overdue_tasks", "process", nonzero=True)
    assert overdue == {"card_reissue": 1}
    # The reissue's no-show timer falls due with its task: a day late, none fired it.
    assert samples[("cardoffice_due_timers", ())] == 1
    assert 86400 <= samples[("cardoffice_timer_lag_seconds", ())] <= 86400 + 31


def test_the_journal_tally_counts_new_entries_before_and_after_they_settle(make_web):
    web = make_web()
    clock = [0.0]
    tally = JournalTally(settle=600, clock=lambda: clock[0])

    def check():
        with web.app_context(), db.engine.connect() as conn:
            counted = {k: n for k, n in tally.counts(conn).items() if n}
        assert counted == journal_by_kind(web)
        return counted

    def post_top_up():
        card = db.session.scalar(select(Card).where(Card.state == CardState.ACTIVE).limit(1))
        top_up(Ctx(db.session, "test", datetime.now(UTC)), card.card_no, 100, TopUpMethod.WECHAT)

    first = check()
    for step in (1, 700, 1, 700, 1):  # before, across, before ... the settling time
        in_app(web, post_top_up)
        clock[0] += step
        check()
    assert check()["topup_wechat"] == first.get("topup_wechat", 0) + 5
    assert tally.upto > 0  # the older entries settled: later scrapes read only the rest


def test_a_long_journal_is_counted_a_chunk_a_scrape(make_web):
    web = make_web()
    clock = [0.0]
    tally = JournalTally(settle=60, chunk=10, clock=lambda: clock[0])
    with web.app_context(), db.engine.connect() as conn:
        total = conn.scalar(select(func.count()).select_from(JournalEntry))
        assert total > 30
        scrapes = [tally.counts(conn)]
        clock[0] += 60  # the first scrape's newest id has settled: the counting starts
        while scrapes[-1] is None and len(scrapes) < 20:
            scrapes.append(tally.counts(conn))
            clock[0] += 15
    assert len(scrapes) - 1 >= total // 10 - 1  # about one scrape per chunk
    assert scrapes[:-1] == [None] * (len(scrapes) - 1) and sum(scrapes[-1].values()) == total


@pytest.mark.parametrize(("token", "status"), [(None, 401), ("wrong", 401), ("s3cret", 200)])
def test_with_a_metrics_token_only_its_bearer_reads_metrics(make_web, token, status):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    reply = make_web(METRICS_TOKEN="s3cret").test_client().get("/metrics", headers=headers)
    assert reply.status_code == status
    if status == 401:
        assert reply.headers["WWW-Authenticate"].startswith("Bearer")
        assert "METRICS_TOKEN" in reply.get_json()["message"]


def test_production_without_a_token_serves_no_metrics(monkeypatch):
    monkeypatch.delenv("METRICS_TOKEN", raising=False)
    app = create_app({"APP_CONFIG": "production", "SQLALCHEMY_DATABASE_URI": "sqlite://",
                      "SECRET_KEY": "s" * 32, "DEPLOY_BPMN_ON_START": False})  # fmt: skip
    reply = app.test_client().get("/metrics", headers={"Accept-Language": "en"})
    message = "METRICS_TOKEN is not set, so production serves no metrics."
    assert (reply.status_code, reply.get_json()["message"]) == (403, message)


# --- /healthz and /readyz -----------------------------------------------------------------

REFUSED = "postgresql+psycopg://postgres@127.0.0.1:1/x?connect_timeout=2"


def test_healthz_answers_without_the_database():
    client = create_app({"APP_CONFIG": "testing", "SQLALCHEMY_DATABASE_URI": REFUSED}).test_client()
    reply = client.get("/healthz")
    assert (reply.status_code, reply.get_json()) == (200, {"status": "ok"})
    assert reply.headers["Cache-Control"] == "no-store"


def test_readyz_is_ok_when_the_database_answers(make_web):
    reply = make_web().test_client().get("/readyz")
    assert (reply.status_code, reply.get_json()) == (200, {"status": "ok"})


def test_readyz_is_503_with_a_message_when_the_database_refuses():
    app = create_app({"APP_CONFIG": "testing", "SQLALCHEMY_DATABASE_URI": REFUSED})
    reply = app.test_client().get("/readyz")
    assert reply.status_code == 503
    body = reply.get_json()
    assert (body["status"], body["database"]) == ("error", "unavailable")
    assert body["message"] == "数据库暂时无法访问，服务尚未就绪。"


def test_readyz_gives_up_after_its_timeout_on_a_silent_database():
    with socket.socket() as silent:  # accepts connections (backlog) and never speaks
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        uri = f"postgresql+psycopg://u@127.0.0.1:{port}/x"
        app = create_app(
            {"APP_CONFIG": "testing", "READYZ_TIMEOUT": 0.5, "SQLALCHEMY_DATABASE_URI": uri}
        )
        started = time.perf_counter()
        reply = app.test_client().get("/readyz", headers={"Accept-Language": "en"})
        elapsed = time.perf_counter() - started
    assert reply.status_code == 503 and 0.5 <= elapsed < 2
    assert reply.get_json()["message"] == "The database does not answer: the service is not ready."


# --- PostgreSQL ---------------------------------------------------------------------------


@pytest.mark.postgres
def test_on_postgresql_metrics_readiness_and_the_audit_request_id():
    with new_pg_database("cardoffice_observability") as url:
        uri = url.render_as_string(hide_password=False)
        build_demo(uri)
        web = create_app({"APP_CONFIG": "testing", "SQLALCHEMY_DATABASE_URI": uri})
        client = logged_in(web, "approver")
        assert client.get("/readyz").status_code == 200
        task = open_task_of(web, "DEMO-LSK-1")
        client.post(f"/tasks/{task}/decide", data=CERTIFY, headers={"X-Request-Id": "pg-1"})
        assert ("approve", "pg-1") in audit_rows(web)
        assert in_app(web, lambda: verify_chains(db.session)) == []
        samples = scrape(client)
        assert samples[("cardoffice_database_up", ())] == 1
        opened = by_label(samples, "cardoffice_open_tasks", "process")
        assert sum(opened.values()) == 5 and opened["temporary_card"] == 1  # moved on, still 1
        journal = by_label(samples, "cardoffice_ledger_journal_entries_total", "kind", True)
        assert journal == journal_by_kind(web)
        with web.app_context():
            db.engine.dispose()


# --- several gunicorn workers -------------------------------------------------------------


def get(url: str, **headers) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode()


@contextmanager
def serving(tmp_path, env: dict, *options: str) -> Iterator[str]:
    """gunicorn with the observability hooks on a free port: its URL, once it answers."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "gunicorn", "-c", "python:app.observability.gunicorn_hooks",
               *options, "-b", f"127.0.0.1:{port}", "app:create_app()"]  # fmt: skip
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=log)
        try:
            yield _answering(f"http://127.0.0.1:{port}", log_path)
        finally:
            server.terminate()
            server.wait(timeout=15)


def _answering(base: str, log_path: Path) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if get(base + "/healthz")[0] == 200:
                return base
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail("gunicorn did not start: " + log_path.read_text())


def test_gunicorn_workers_counts_add_up_in_multiprocess_mode(demo_file, tmp_path):
    directory = tmp_path / "metrics"
    directory.mkdir()
    (directory / "counter_999999.db").write_bytes(b"an earlier run's")
    database = tmp_path / "gunicorn.sqlite3"
    shutil.copy(demo_file, database)
    env = os.environ | {"APP_CONFIG": "testing", "PROMETHEUS_MULTIPROC_DIR": str(directory),
                        "TEST_DATABASE_URL": f"sqlite:///{database}"}  # fmt: skip
    # Each worker is replaced after 5 requests: 20 requests are served by at least 4 processes.
    with serving(tmp_path, env, "-w", "2", "--max-requests", "5", "--preload") as base:
        assert not (directory / "counter_999999.db").exists()
        for _ in range(20):
            assert get(base + "/no-such-page")[0] == 404
        for _ in range(4):  # whichever worker answers: the sum of every worker, gone or not
            samples = parse(get(base + "/metrics")[1])
            key = (("endpoint", "none"), ("method", "GET"), ("status", "404"))
            assert samples[("cardoffice_http_requests_total", key)] == 20
            assert sum(by_label(samples, "cardoffice_open_tasks", "process").values()) == 5
        pids = {path.stem.rsplit("_", 1)[1] for path in directory.glob("counter_*.db")}
    assert len(pids) >= 4

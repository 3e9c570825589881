"""The demo world the access tests walk the routes in: a copy of the demo database with the
objects the routes name (a draft, a saved filter, a substitution, a settlement run, an
incident, an attachment, an API token), every demo login logged in, and a fingerprint of the
database to tell that a request changed nothing."""

import hashlib
import re
import shutil
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app import create_app
from app.auth.accounts import find_user
from app.demo import DEMO_PASSWORD, LOGINS
from app.engine import engine_config
from app.extensions import db
from app.uow import unit_of_work
from ledger.context import Ctx
from ledger.models.cards import CardEvent
from ledger.models.merchants import Settlement
from ledger.models.people import Department, Person
from ledger.ops.settlement import run_settlement
from workflows import away, runtime, tasks, webstate
from workflows.apitokens import issue_token
from workflows.context import Env
from workflows.models import Notification, ProcessInstance
from workflows.registry import ACTIONS
from workflows.webstate import Attachment

USERS = tuple(username for username, *_rest in LOGINS)


@dataclass
class World:
    """The app on a module's copy of the demo data, the ids the routes need, and one test
    client per login (None: anonymous)."""

    app: Flask
    path: Path
    pristine: Path
    ids: dict
    clients: dict[str | None, FlaskClient] = field(default_factory=dict)

    def fingerprint(self) -> dict[str, str]:
        """{table: hash of its rows}: equal before and after means nothing changed."""
        connection = sqlite3.connect(self.path)
        try:
            tables = [row[0] for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )]  # fmt: skip
            found = {}
            for table in tables:
                digest = hashlib.sha256()
                for row in connection.execute(f'SELECT * FROM "{table}" ORDER BY rowid'):
                    digest.update(repr(row).encode())
                found[table] = digest.hexdigest()
            return found
        finally:
            connection.close()

    def restore(self) -> None:
        """Put the database back as it was after set-up (after a request changed it)."""
        with self.app.app_context():
            db.engine.dispose()
        for suffix in ("-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        shutil.copy(self.pristine, self.path)

    def url(self, endpoint: str, method: str = "GET") -> str:
        """The route's URL, each argument filled from the demo data."""
        (rule,) = [r for r in self.app.url_map.iter_rules() if r.endpoint == endpoint]
        values = {}
        for name in sorted(rule.arguments):
            resolve = ARGUMENTS.get((endpoint, name)) or ARGUMENTS.get(name)
            if resolve is None:
                pytest.fail(f"{endpoint} ({rule.rule}): no value for <{name}>; add to ARGUMENTS")
            values[name] = resolve(self.ids)
        return self.app.url_map.bind("localhost").build(endpoint, values, method=method)

    def changes_since(self, before: dict) -> list[str]:
        """The tables that changed since `before` (the database is then put back)."""
        after = self.fingerprint()
        changed = sorted(table for table in after if after[table] != before.get(table))
        if changed:
            self.restore()
        return changed


#: What fills each route argument (by name, or by (endpoint, name)).
ARGUMENTS = {
    "instance_id": lambda ids: ids["request"],
    "task_id": lambda ids: ids["task"],
    "attachment_id": lambda ids: ids["attachment"],
    "draft_id": lambda ids: ids["draft"],
    "filter_id": lambda ids: ids["filter"],
    "substitution_id": lambda ids: ids["substitution"],
    "incident_id": lambda ids: ids["incident"],
    "settlement_id": lambda ids: ids["settlement"],
    "person_id": lambda ids: ids["person"],
    "user_id": lambda ids: ids["user"],
    "grant_id": lambda ids: ids["grant"],
    "token_id": lambda ids: ids["token"],
    "code": lambda ids: "CANTEEN1",
    "process_id": lambda ids: "temporary_card",
    "name": lambda ids: "issue",
    "action": lambda ids: "suspend",
    "kind": lambda ids: "event",
    "ref": lambda ids: ids["issued"],
}


def env_of(username: str, now: datetime) -> Env:
    """The engine context of a demo login."""
    return Env(db.session, find_user(db.session, username), now, engine_config())


def instance_id(key: str) -> int:
    """The id of the request with business key `key`."""
    return db.session.scalar(select(ProcessInstance.id).where(ProcessInstance.business_key == key))


def _failing_action(env, **params):
    raise RuntimeError("card printer offline")


def make_objects(now: datetime) -> dict:
    """What the routes name besides the demo requests: a draft and an API token of the
    applicant, a saved filter and a coming substitution of the approver, a settlement run a
    week later, and an incident (the reissue of DEMO-BB-1 failing at the counter)."""
    request = db.session.get(ProcessInstance, instance_id("DEMO-LSK-1"))
    (task,) = runtime.open_tasks(db.session, request.id)
    applicant, approver = env_of("applicant", now), env_of("approver", now)
    cs = db.session.scalar(select(Department.id).where(Department.code == "CS"))
    draft = webstate.save_draft(applicant, "temporary_card", {"reason": "草稿"}, cs, None)
    saved = webstate.save_filter(approver, "逾期", {"overdue": "1"})
    token, _plain = issue_token(db.session, applicant.user, "报表脚本", now)
    hr, later = find_user(db.session, "hr"), approver.today + timedelta(days=10)
    substitution = away.name_substitute(approver, hr.id, later, later + timedelta(days=5))
    run_settlement(Ctx(db.session, "user:settlement", now + timedelta(days=8)))
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(ACTIONS, "cards.reissue", _failing_action)
        (counter_task,) = runtime.open_tasks(db.session, instance_id("DEMO-BB-1"))
        decision = {"decision": "approve", "identity_checked": True, "fee_paid": True}
        tasks.complete(env_of("cardoffice", now), counter_task.id, decision)
    incident = runtime.open_incident_of(db.session, instance_id("DEMO-BB-1"))
    return {
        "request": request.id, "task": task.id, "draft": draft.id,
        "filter": saved.id, "substitution": substitution.id, "incident": incident.id,
        "settlement": db.session.scalar(select(func.max(Settlement.id))),
        "person": db.session.scalar(select(Person.id).where(Person.name == "孙浩然")),
        "user": applicant.user.id, "grant": applicant.user.grants[0].id,
        "token": token.id,
        "issued": db.session.scalar(
            select(func.min(CardEvent.id)).where(CardEvent.reason == "issued")
        ),
        "notifications": db.session.scalars(
            select(Notification.id).where(Notification.user_id == approver.user.id)
        ).all(),
    }  # fmt: skip


def csrf_field(page: str) -> dict:
    """{"csrf_token": the page's token}, or {} if the page has none (CSRF off)."""
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    return {"csrf_token": found[1]} if found else {}


def log_in(client: FlaskClient, username: str) -> FlaskClient:
    """Log `client` in as the demo login (with the form's CSRF token, if it has one)."""
    data = {"username": username, "password": DEMO_PASSWORD}
    data |= csrf_field(client.get("/login").get_data(as_text=True))
    reply = client.post("/login", data=data)
    assert reply.status_code == 302, f"{username} could not log in"
    return client


def build_world(demo_database: Path, directory: Path, **settings) -> World:
    """The app on a copy of the demo database in `directory`, the objects made, every login
    logged in, the database kept as it is then."""
    path, pristine = directory / "world.sqlite3", directory / "pristine.sqlite3"
    shutil.copy(demo_database, path)
    app = create_app(
        {"APP_CONFIG": "testing", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", **settings}
    )
    with app.app_context():
        with unit_of_work():
            ids = make_objects(datetime.now(UTC))
        db.engine.dispose()
    clients = {name: log_in(app.test_client(), name) for name in USERS}
    clients[None] = app.test_client()
    ids["attachment"] = upload_a_file(app, clients["applicant"], ids["request"])
    with app.app_context():
        db.engine.dispose()
    shutil.copy(path, pristine)
    return World(app, path, pristine, ids, clients)


def upload_a_file(app: Flask, client: FlaskClient, request_id: int) -> int:
    """The id of a file the applicant attaches to their request."""
    page = client.get(f"/instances/{request_id}").get_data(as_text=True)
    upload = {"file": (BytesIO(b"%PDF-1.4 demo"), "在职证明.pdf"), **csrf_field(page)}
    reply = client.post(f"/instances/{request_id}/attachments", data=upload)
    assert reply.status_code == 302, "the applicant could not attach a file"
    with app.app_context():
        return db.session.scalar(select(func.max(Attachment.id)))

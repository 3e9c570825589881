"""`flask workflows deploy | layout | tick | worker | remind-expiring | verify-audit |
bank-batch`, and deploying at start-up."""

import csv
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest
from sqlalchemy import func, select

import tests.workflows.support  # noqa: F401  (registers the test form and action)
from app import create_app
from app.extensions import db
from ledger.base import Base
from ledger.config import LedgerConfig
from ledger.context import Ctx
from ledger.models.people import DepartmentKind, PersonCategory
from ledger.ops.cards import issue_card
from tests.conftest import NOW, TEST_CONFIG
from tests.factories import Factories
from tests.procedures.conftest import BPMN_DIR as PROCESS_BPMN
from tests.procedures.conftest import Desk
from workflows.deploy import deploy_directory
from workflows.identity import Role, RoleGrant, User
from workflows.models import Notification, ProcessDefinition

TEST_BPMN = Path(__file__).parent.parent / "workflows" / "bpmn"


@pytest.fixture
def bpmn_dir(tmp_path):
    """A copy of the engine tests' BPMN files that a test may change."""
    target = tmp_path / "bpmn"
    shutil.copytree(TEST_BPMN, target)
    return target


@pytest.fixture
def app_config(bpmn_dir):
    return {"BPMN_DIR": str(bpmn_dir)}


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=list(args))


def test_deploy_then_deploy_again_changes_nothing(cli):
    first = cli("workflows", "deploy")
    assert first.exit_code == 0, first.output
    assert "process approval v1: new" in first.output
    assert "decision fee_table v1: new" in first.output
    again = cli("workflows", "deploy")
    assert "process approval v1: unchanged" in again.output
    assert "new" not in again.output


def test_a_changed_file_deploys_as_the_next_version(cli, bpmn_dir, app):
    cli("workflows", "deploy")
    path = bpmn_dir / "approval.bpmn"
    path.write_text(path.read_text().replace('name="部门审核"', 'name="部门负责人审核"'))
    result = cli("workflows", "deploy")
    assert "process approval v2: version" in result.output
    with app.app_context():
        versions = db.session.scalars(
            select(ProcessDefinition.version).where(ProcessDefinition.process_id == "approval")
        ).all()
    assert sorted(versions) == [1, 2]


def test_a_broken_file_is_refused_with_file_and_line(cli, bpmn_dir, app):
    (bpmn_dir / "broken.bpmn").write_text('<?xml version="1.0"?>\n<bpmn:definitions>\n<oops')
    result = cli("workflows", "deploy")
    assert result.exit_code == 1
    assert "broken.bpmn" in result.output and "第 2 行" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ProcessDefinition)) == 0


def test_tick_and_worker_run_with_nothing_due(cli):
    assert "fired timers of 0 request(s)" in cli("workflows", "tick").output
    result = cli("workflows", "worker", "--passes", "2", "--interval", "0")
    assert result.exit_code == 0, result.output


def test_verify_audit_passes_on_an_empty_trail(cli):
    result = cli("workflows", "verify-audit")
    assert result.exit_code == 0 and "审计链校验通过" in result.output


@pytest.fixture
def start_app(bpmn_dir, tmp_path):
    """`start_app()`: build an app that deploys BPMN_DIR at start-up, on a SQLite file whose
    tables exist; returns the names of the deployed processes."""
    url = f"sqlite:///{tmp_path}/start.sqlite3"
    first = create_app({"APP_CONFIG": "testing", "SQLALCHEMY_DATABASE_URI": url})
    with first.app_context():
        Base.metadata.create_all(db.engine)
        db.engine.dispose()
    settings = {"DEPLOY_BPMN_ON_START": True, "BPMN_DIR": str(bpmn_dir)}

    def start() -> list[str]:
        app = create_app({"APP_CONFIG": "testing", "SQLALCHEMY_DATABASE_URI": url, **settings})
        with app.app_context():
            names = db.session.scalars(select(ProcessDefinition.process_id)).all()
            db.engine.dispose()
        return names

    return start


def test_the_app_deploys_bpmn_when_it_starts(start_app):
    assert "approval" in start_app()


def test_start_up_survives_a_broken_file(bpmn_dir, start_app, caplog):
    (bpmn_dir / "broken.bpmn").write_text("<not-bpmn")
    assert start_app() == []
    assert "BPMN not deployed" in caplog.text and "broken.bpmn" in caplog.text


@pytest.mark.parametrize(("command", "deploys"), [("run", True), ("upgrade", False)])
def test_only_serving_deploys_at_start_up(start_app, command, deploys):
    parent = click.Context(click.Group("flask"), info_name="flask")
    with click.Context(click.Command(command), parent=parent, info_name=command):
        names = start_app()
    assert bool(names) is deploys


def test_layout_writes_a_diagram_that_still_deploys(cli, bpmn_dir):
    path = bpmn_dir / "approval.bpmn"
    result = cli("workflows", "layout", str(path))
    assert result.exit_code == 0, result.output
    text = path.read_text()
    assert text.count("<bpmndi:BPMNShape") == 16 and text.count("<bpmndi:BPMNEdge") == 10
    assert "process approval v1: new" in cli("workflows", "deploy").output


def test_layout_refuses_a_broken_file(cli, bpmn_dir):
    (bpmn_dir / "broken.bpmn").write_text("<not-bpmn")
    result = cli("workflows", "layout", str(bpmn_dir / "broken.bpmn"))
    assert result.exit_code == 1 and "broken.bpmn" in result.output


def test_remind_expiring_tells_the_department_once(cli, app):
    now = datetime.now(UTC)
    with app.app_context():
        ctx = Ctx(db.session, "test", now, LedgerConfig(password_cost=2**4))
        make = Factories(ctx)
        dept = make.department()
        person = make.person(PersonCategory.OTHER, department=dept)
        issue_card(ctx, person.id, valid_until=ctx.today + timedelta(days=20))
        applicant = User(username="sec", display_name="秘书", password_hash="-")
        applicant.grants.append(RoleGrant(role=Role.APPLICANT, department_id=dept.id))
        db.session.add(applicant)
        db.session.commit()
    assert "reminded of 1 card(s)" in cli("workflows", "remind-expiring").output
    assert "reminded of 0 card(s)" in cli("workflows", "remind-expiring").output
    with app.app_context():
        (note,) = db.session.scalars(select(Notification)).all()
        assert note.kind == "expiring" and note.link.startswith("/start/temporary_card_extension")


def test_r14_bank_batch_prints_the_csv_of_a_terminations_bank_refunds(cli, app):
    with app.app_context():
        ctx = Ctx(db.session, "test", NOW, TEST_CONFIG)
        make = Factories(ctx)
        deploy_directory(db.session, PROCESS_BPMN)
        office = make.department(kind=DepartmentKind.OFFICE)
        graduate, no_bank = (make.card(PersonCategory.UNDERGRADUATE, balance=b) for b in (3456, 7))
        graduate.account.bank_card_no = "6217000000000000001"
        users = {}
        for role, department in ((Role.REGISTRAR, office.id), (Role.IT_CENTER, None)):
            users[role] = User(username=role.value, display_name=role.value, password_hash="-")
            users[role].grants.append(RoleGrant(role=role, department_id=department))
            db.session.add(users[role])
        desk = Desk(db.session, users=users)
        entries = [
            {"card_no": card.card_no, "name": card.person.name, "reason": "graduated"}
            for card in (graduate, no_bank)
        ]
        instance = desk.start(Role.REGISTRAR, "forced_termination", {"entries": entries}, office.id)
        db.session.commit()
        instance_id = instance.id
        not_yet = cli("workflows", "bank-batch", str(instance_id))  # no card has been ended yet
        assert not_yet.exit_code == 1
        assert f"未找到强制终止的银行退款批次：{instance_id}" in not_yet.output
        desk.approve(Role.IT_CENTER, instance, "it_review", excluded=[])
        desk.later()
        db.session.commit()
        name, masked = graduate.person.name, graduate.person.masked_id
    result = cli("workflows", "bank-batch", str(instance_id))
    assert result.exit_code == 0, result.output
    table = list(csv.reader(result.output.lstrip("\ufeff").splitlines()))
    assert [row[3:8] for row in table[1:]] == [
        [name, masked, "6217000000000000001", "34.56", "待退款"],
        ["1 笔", "", "", "34.56", ""],
    ]
    unknown = cli("workflows", "bank-batch", "424242")
    assert unknown.exit_code == 1
    assert "未找到申请：424242" in unknown.output and "No request found: 424242" in unknown.output

"""Notifications: in the app for a new task, a decision, a return, an urge and a copy; by mail
over SMTP (a real local aiosmtpd server) only once the transaction commits."""

import email
import email.policy
import socket
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.context import Ctx
from tests.conftest import NOW, TEST_CONFIG
from tests.factories import Factories
from tests.workflows import support
from tests.workflows.conftest import BPMN_DIR
from workflows import instances, notify, runtime, tasks
from workflows.context import EngineConfig, Env, MailSettings
from workflows.deploy import deploy_directory
from workflows.identity import Role, RoleGrant, User
from workflows.models import InstanceStatus, ProcessInstance

# --- in the app ----------------------------------------------------------------------------


@pytest.fixture
def approver2(make_user, dept, people):
    return make_user((Role.DEPT_APPROVER, dept.id), name="approver2")


@pytest.fixture
def started(deployed, people, env_for, make, dept):
    person = make.person(department=dept)
    data = {"person_id": person.id, "reason": "入职办卡"}
    return instances.start_instance(env_for(people["applicant"]), "approval", "N-1", data, dept.id)


def inbox_kinds(session, user) -> list[str]:
    return [row.kind for row in notify.unread(session, user.id)]


def the_task(session, instance):
    return runtime.open_tasks(session, instance.id)[0]


def test_notify_new_task_to_every_candidate(db_session, approver2, started, people):
    for user in (people["approver"], approver2):
        [note] = notify.unread(db_session, user.id)
        assert (note.kind, note.instance_id, note.created_at) == ("new_task", started.id, NOW)
        assert "N-1" in note.text_zh and "部门审核" in note.text_zh
    for user in (people["applicant"], people["clerk"], people["admin"]):
        assert inbox_kinds(db_session, user) == []


@pytest.mark.parametrize("decision, verb", [("approve", "同意"), ("reject", "驳回")])
def test_notify_decision_to_the_applicant(db_session, started, people, env_for, decision, verb):
    data = {"decision": decision, "comment": "意见"}
    tasks.complete(env_for(people["approver"]), the_task(db_session, started).id, data)
    [note] = notify.unread(db_session, people["applicant"].id)
    assert note.kind == "decision" and verb in note.text_zh and decision in note.text_en
    office_kinds = inbox_kinds(db_session, people["clerk"])
    assert office_kinds == (["new_task"] if decision == "approve" else [])


def test_notify_return_to_the_applicant(db_session, started, people, env_for):
    tasks.return_task(env_for(people["approver"]), the_task(db_session, started).id, "缺照片")
    [note] = notify.unread(db_session, people["applicant"].id)
    assert note.kind == "return" and "缺照片" in note.text_zh


def test_notify_return_to_an_earlier_step_tells_its_decider(db_session, started, people, env_for):
    tasks.complete(
        env_for(people["approver"]), the_task(db_session, started).id, {"decision": "approve"}
    )
    seen = [n.id for n in notify.unread(db_session, people["approver"].id)]
    assert notify.mark_read(env_for(people["approver"]), seen) == 1
    office = the_task(db_session, started)
    tasks.return_task(env_for(people["clerk"]), office.id, "请再确认", to="dept_review")
    assert sorted(inbox_kinds(db_session, people["approver"])) == ["new_task", "return"]
    assert "return" not in inbox_kinds(db_session, people["applicant"])


def test_notify_urge_and_copy(db_session, started, people, make_user, env_for):
    reader = make_user(name="reader")
    instances.urge(env_for(people["applicant"]), started.id)
    instances.copy_to(env_for(people["applicant"]), started.id, [reader.id])
    assert inbox_kinds(db_session, people["approver"]) == ["urge", "new_task"]
    [note] = notify.unread(db_session, reader.id)
    assert note.kind == "copy" and "applicant" in note.text_zh


@pytest.mark.parametrize("action", ["transfer", "add_signer"])
def test_notify_new_task_to_the_transferee_or_signer(
    db_session, started, people, approver2, env_for, action
):
    notify.mark_read(env_for(approver2), [n.id for n in notify.unread(db_session, approver2.id)])
    row = the_task(db_session, started)
    if action == "transfer":
        tasks.transfer(env_for(people["approver"]), row.id, approver2.id)
    else:
        tasks.add_signer(env_for(people["approver"]), row.id, approver2.id, "before")
    assert inbox_kinds(db_session, approver2) == ["new_task"]


def test_notify_withdraw_tells_who_was_waiting(db_session, started, people, env_for):
    instances.withdraw(env_for(people["applicant"]), started.id)
    assert inbox_kinds(db_session, people["approver"]) == ["withdraw", "new_task"]


def test_notify_once_per_user(db_session, started, people, env_for):
    env = env_for(people["admin"])
    ids = [people["clerk"].id, people["clerk"].id, None]
    rows = notify.notify(env, ids, started, "copy", "中文", "English")
    assert [row.user_id for row in rows] == [people["clerk"].id]
    assert inbox_kinds(db_session, people["clerk"]) == ["copy"]


def test_mark_read_only_the_users_own(db_session, approver2, started, people, env_for):
    mine = notify.unread(db_session, people["approver"].id)
    theirs = notify.unread(db_session, approver2.id)
    assert len(mine) == len(theirs) == 1
    later = env_for(people["approver"], later=timedelta(minutes=5))
    assert notify.mark_read(later, [n.id for n in mine + theirs]) == 1
    assert notify.unread(db_session, people["approver"].id) == []
    assert mine[0].read_at == NOW + timedelta(minutes=5)
    assert [n.read_at for n in notify.unread(db_session, approver2.id)] == [None]
    assert notify.mark_read(later, [n.id for n in mine]) == 0


def test_unread_newest_first_and_limited(db_session, started, people, env_for):
    for minutes in (1, 2):
        instances.urge(env_for(people["applicant"], later=timedelta(hours=minutes)), started.id)
    notes = notify.unread(db_session, people["approver"].id)
    assert [n.kind for n in notes] == ["urge", "urge", "new_task"]
    assert notes[0].created_at == NOW + timedelta(hours=2)
    assert notify.unread(db_session, people["approver"].id, limit=1) == notes[:1]


# --- by mail -------------------------------------------------------------------------------


class Collector:
    """An aiosmtpd handler keeping every message it accepts."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"

    def to(self, address: str) -> list:
        return [message for rcpt, message in self.messages if address in rcpt]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp():
    collector = Collector()
    controller = Controller(collector, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield collector, controller.port
    controller.stop()


@dataclass
class World:
    """What the in-app tests get from fixtures, made in a session that commits."""

    session: Session
    config: EngineConfig
    users: dict = field(default_factory=dict)
    dept_id: int = 0
    person_id: int = 0

    def env(self, name: str) -> Env:
        return Env(self.session, self.users[name], NOW, self.config)

    def start(self, key: str) -> ProcessInstance:
        data = {"person_id": self.person_id, "reason": "入职办卡"}
        return instances.start_instance(self.env("applicant"), "approval", key, data, self.dept_id)

    def decide(self, name: str, instance: ProcessInstance) -> None:
        row = runtime.open_tasks(self.session, instance.id)[0]
        tasks.complete(self.env(name), row.id, {"decision": "approve"})


def build_world(session: Session, port: int) -> World:
    make = Factories(Ctx(session, "test", NOW, TEST_CONFIG))
    dept = make.department()
    world = World(
        session,
        EngineConfig(ledger=TEST_CONFIG, mail=MailSettings(host="127.0.0.1", port=port)),
        dept_id=dept.id,
        person_id=make.person(department=dept).id,
    )
    grants = {
        "applicant": (Role.APPLICANT, dept.id),
        "approver": (Role.DEPT_APPROVER, dept.id),
        "approver2": (Role.DEPT_APPROVER, dept.id),  # no e-mail address
        "clerk": (Role.CARD_OFFICE, None),
    }
    for name, (role, department) in grants.items():
        address = None if name == "approver2" else f"{name}@cup.edu.cn"
        user = User(username=name, display_name=name, password_hash="-", email=address)
        user.grants.append(RoleGrant(role=role, department_id=department))
        session.add(user)
        world.users[name] = user
    deploy_directory(session, BPMN_DIR)
    session.commit()
    return world


@pytest.fixture
def world(committed_engine, smtp):
    with Session(committed_engine) as session:
        yield build_world(session, smtp[1])


def test_mail_sent_only_after_commit(world, smtp):
    collector, _port = smtp
    instance = world.start("M-1")
    world.session.flush()
    assert collector.messages == []
    world.session.commit()
    [(rcpt, message)] = collector.messages
    assert rcpt == ["approver@cup.edu.cn"]  # approver2 has no address
    assert message["Subject"].startswith("[校园卡] 待办") and "M-1" in message["Subject"]
    assert message["From"] == world.config.mail.sender
    assert f"{world.config.base_url}/instances/{instance.id}" in message.get_content()


def test_a_line_break_in_a_title_keeps_the_subject_one_line(world, smtp):
    collector, _port = smtp
    world.start("M-1\nBcc: outsider@example.com")
    world.session.commit()
    [(rcpt, message)] = collector.messages
    assert rcpt == ["approver@cup.edu.cn"] and message["Bcc"] is None
    assert "M-1 Bcc: outsider@example.com" in message["Subject"]


def test_mail_never_after_rollback(world, smtp):
    collector, _port = smtp
    instance_id = world.start("M-1").id
    world.session.commit()
    collector.messages.clear()
    world.decide("approver", world.session.get(ProcessInstance, instance_id))
    assert world.session.info[notify.OUTBOX]
    world.session.begin_nested()  # a savepoint open at the rollback changes nothing
    world.session.rollback()
    world.session.commit()
    assert collector.messages == []
    assert runtime.open_tasks(world.session, instance_id)[0].task_name == "dept_review"


def test_mail_queued_before_a_failed_action_still_sent(world, smtp):
    # A failing service action rolls back only its savepoint; the transaction commits.
    collector, _port = smtp
    support.FAILURES["issue_card"] = 1
    instance = world.start("M-1")
    world.decide("approver", instance)
    world.decide("clerk", instance)
    assert instance.status == InstanceStatus.INCIDENT
    world.session.commit()
    assert len(collector.to("approver@cup.edu.cn")) == 1
    assert len(collector.to("clerk@cup.edu.cn")) == 1
    assert len(collector.to("applicant@cup.edu.cn")) == 2  # both decisions


def test_mail_server_down_does_not_undo_the_commit(world, smtp, caplog):
    collector, port = smtp
    down = EngineConfig(ledger=TEST_CONFIG, mail=MailSettings(host="127.0.0.1", port=free_port()))
    world.config = down
    world.start("M-1")
    world.session.commit()
    assert collector.messages == []
    assert "could not mail" in caplog.text
    assert world.session.scalar(select(ProcessInstance.business_key)) == "M-1"

"""Safeguards: who may decide what (department scope, not one's own request, one vote per
person), what a return may not undo, actions whose result or mail must not outlive their
failure, checked expressions, and timers recorded as they really ended."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from ledger.models.cards import Card
from ledger.ops.cards import issue_card
from tests.conftest import NOW
from tests.workflows.conftest import BPMN_DIR, ENGINE_CONFIG
from workflows import away, inbox, instances, notify, runtime, spiff, tasks
from workflows.context import EngineConfig, MailSettings
from workflows.deploy import deploy_sources
from workflows.errors import InvalidBpmn, NotAllowed
from workflows.identity import Role
from workflows.models import AuditEntry, InstanceStatus, TaskState, Timer
from workflows.registry import action

APPROVE = {"decision": "approve"}
DAY = timedelta(days=1)

#: start (applicant) -> a service action -> a card-office review -> end
ACTION_FIRST = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
  <bpmn:process id="{pid}" name="先办后审" isExecutable="true">
    <bpmn:laneSet id="ls">
      <bpmn:lane id="applicant" name="经办人"><bpmn:flowNodeRef>start</bpmn:flowNodeRef></bpmn:lane>
      <bpmn:lane id="card_office" name="卡务中心"><bpmn:flowNodeRef>act</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>review</bpmn:flowNodeRef><bpmn:flowNodeRef>end</bpmn:flowNodeRef></bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start" name="开始">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="form" value="test_request"/></spiffworkflow:properties>
      </bpmn:extensionElements><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="act" name="办理">
      <bpmn:extensionElements><spiffworkflow:serviceTaskOperator id="{action}">
        <spiffworkflow:parameters>
          <spiffworkflow:parameter id="person_id" type="int" value="person_id"/>
        </spiffworkflow:parameters></spiffworkflow:serviceTaskOperator></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:serviceTask>
    <bpmn:userTask id="review" name="复核">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="form" value="decision"/></spiffworkflow:properties>
      </bpmn:extensionElements><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end" name="结束"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="act"/>
    <bpmn:sequenceFlow id="f2" sourceRef="act" targetRef="review"/>
    <bpmn:sequenceFlow id="f3" sourceRef="review" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


@action("test.bad_result")
def _bad_result(env, person_id: int):
    """Writes, then returns what JSON cannot hold."""
    issue_card(env.ledger_ctx(), person_id)
    return {"at": datetime.now(UTC)}


@action("test.mail_then_fail")
def _mail_then_fail(env, person_id: int):
    """Queues a mail, then fails."""
    notify.notify(env, [env.user.id], None, "note", "提醒", "note")
    raise RuntimeError("after queueing a mail")


@action("test.deadlock")
def _deadlock(env, person_id: int):
    """Fails as the database does when it breaks a deadlock."""
    raise OperationalError("UPDATE cards ...", {}, Exception("deadlock detected"))


def deploy_action_first(session, action_id: str) -> str:
    pid = action_id.replace(".", "_")
    text = ACTION_FIRST.format(pid=pid, action=action_id)
    deploy_sources(session, {f"{pid}.bpmn": text.encode()})
    return pid


def start(env, pid, person, dept, key="S-1"):
    data = {"person_id": person.id, "reason": "入职办卡"}
    return instances.start_instance(env, pid, key, data, dept.id)


def test_a_task_without_a_department_is_for_all_department_grants_only(
    db_session, deployed, make_user, env_for, person, dept
):
    filer = make_user(Role.APPLICANT)  # for every department
    narrow = make_user((Role.DEPT_APPROVER, dept.id))
    broad = make_user(Role.DEPT_APPROVER)
    instance = instances.start_instance(
        env_for(filer), "approval", "N-1", {"person_id": person.id, "reason": "入职"}
    )
    (row,) = runtime.open_tasks(db_session, instance.id)
    assert row.candidate_department_id is None
    assert inbox.inbox_page(db_session, inbox.scope_of(db_session, narrow, NOW.date())) == []
    with pytest.raises(NotAllowed):
        tasks.complete(env_for(narrow), row.id, APPROVE)
    tasks.complete(env_for(broad), row.id, APPROVE)
    assert row.completed_by_id == broad.id


def test_a_department_applicant_must_name_the_department(deployed, people, env_for, person):
    with pytest.raises(NotAllowed):
        instances.start_instance(
            env_for(people["applicant"]), "approval", "N-2",
            {"person_id": person.id, "reason": "入职"},
        )  # fmt: skip


def test_nobody_approves_their_own_request(db_session, deployed, make_user, env_for, person, dept):
    both = make_user((Role.APPLICANT, dept.id), (Role.DEPT_APPROVER, dept.id))
    instance = instances.start_instance(
        env_for(both), "approval", "O-1", {"person_id": person.id, "reason": "入职"}, dept.id
    )
    (row,) = runtime.open_tasks(db_session, instance.id)
    with pytest.raises(NotAllowed):
        tasks.complete(env_for(both), row.id, APPROVE)
    assert row.state == TaskState.OPEN


def test_nor_as_the_substitute_of_its_approver(db_session, started, people, env_for):
    approver = env_for(people["approver"])
    away.name_substitute(approver, people["applicant"].id, approver.today, approver.today)
    (row,) = runtime.open_tasks(db_session, started.id)
    with pytest.raises(NotAllowed):
        tasks.complete(env_for(people["applicant"]), row.id, APPROVE)


def test_a_return_never_replays_a_carried_out_action(
    db_session, deployed, people, env_for, person, dept
):
    pid = deploy_action_first(db_session, "test.issue_card")
    instance = start(env_for(people["applicant"]), pid, person, dept)
    (row,) = runtime.open_tasks(db_session, instance.id)
    with pytest.raises(NotAllowed):
        tasks.return_task(env_for(people["clerk"]), row.id, "请补充材料")
    with pytest.raises(NotAllowed):
        instances.withdraw(env_for(people["applicant"]), instance.id)
    assert row.state == TaskState.OPEN
    assert len(db_session.scalars(select(Card).where(Card.person_id == person.id)).all()) == 1


@pytest.fixture
def signers(people, make_user):
    return [people["clerk"], people["clerk2"], make_user(Role.CARD_OFFICE, name="clerk3")]


def test_one_vote_each_in_an_all_sign_step(db_session, deployed, people, env_for, dept, signers):
    instance = instances.start_instance(env_for(people["applicant"]), "allsign", "V-1", {},
                                        dept.id)  # fmt: skip
    rows = {row.assignee_id: row for row in runtime.open_tasks(db_session, instance.id)}
    first, second, third = signers
    with pytest.raises(NotAllowed):  # second already holds a vote
        tasks.transfer(env_for(first), rows[first.id].id, second.id)
    tasks.complete(env_for(second), rows[second.id].id, APPROVE)
    with pytest.raises(NotAllowed):  # second has voted
        tasks.transfer(env_for(first), rows[first.id].id, second.id)
    third_env = env_for(third)
    away.name_substitute(third_env, second.id, third_env.today, third_env.today)
    with pytest.raises(NotAllowed):  # nor a second vote on the absent signer's behalf
        tasks.complete(env_for(second), rows[third.id].id, APPROVE)
    assert rows[third.id].state == TaskState.OPEN


def test_a_resubmission_cannot_be_transferred(db_session, started, people, env_for, make_user):
    (row,) = runtime.open_tasks(db_session, started.id)
    tasks.return_task(env_for(people["approver"]), row.id, "材料不全")
    (resubmit,) = runtime.open_tasks(db_session, started.id)
    with pytest.raises(NotAllowed):
        tasks.transfer(env_for(people["applicant"]), resubmit.id, make_user().id)
    assert resubmit.assignee_id == people["applicant"].id


def test_an_added_signer_cannot_unclaim(db_session, started, people, env_for, make_user):
    signer = make_user()
    (row,) = runtime.open_tasks(db_session, started.id)
    tasks.add_signer(env_for(people["approver"]), row.id, signer.id, "before")
    with pytest.raises(NotAllowed):
        tasks.unclaim(env_for(signer), row.id)
    assert (row.assignee_id, row.return_to_id) == (signer.id, people["approver"].id)


def test_an_action_whose_result_cannot_be_stored_leaves_no_writes(
    db_session, deployed, people, env_for, person, dept
):
    pid = deploy_action_first(db_session, "test.bad_result")
    instance = start(env_for(people["applicant"]), pid, person, dept)
    assert instance.status == InstanceStatus.INCIDENT
    assert db_session.scalars(select(Card).where(Card.person_id == person.id)).all() == []
    actions = db_session.scalars(
        select(AuditEntry.action).where(AuditEntry.instance_id == instance.id)
    ).all()
    assert actions == ["start", "incident"]


def test_mail_queued_by_a_failed_action_is_dropped(
    db_session, deployed, people, env_for, person, dept
):
    pid = deploy_action_first(db_session, "test.mail_then_fail")
    config = EngineConfig(ledger=ENGINE_CONFIG.ledger, mail=MailSettings(host="127.0.0.1"))
    people["applicant"].email = "applicant@example.edu.cn"
    instance = start(env_for(people["applicant"], config=config), pid, person, dept)
    assert instance.status == InstanceStatus.INCIDENT
    assert notify.queued_mail(db_session) == 0
    db_session.info.pop(notify.OUTBOX, None)


def test_a_deadlock_fails_the_request_instead_of_opening_an_incident(
    db_session, deployed, people, env_for, person, dept
):
    pid = deploy_action_first(db_session, "test.deadlock")
    with pytest.raises(OperationalError):
        start(env_for(people["applicant"]), pid, person, dept)


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (('<bpmn:lane id="applicant" name="经办人"><bpmn:flowNodeRef>start</bpmn:flowNodeRef>'
          "</bpmn:lane>", ""), "start is not in a lane"),
        (('value="person_id"', 'value="().__class__"'), "not allowed"),
    ],
    ids=["start-outside-lanes", "dunder-in-a-parameter"],
)  # fmt: skip
def test_deploy_refuses_unsafe_or_unowned_starts(db_session, edit, reason):
    text = ACTION_FIRST.format(pid="bad", action="test.issue_card").replace(*edit)
    with pytest.raises(InvalidBpmn) as caught:
        deploy_sources(db_session, {"bad.bpmn": text.encode()})
    assert reason in caught.value.params["reason"]
    assert caught.value.params["line"] != "?"


def test_deploy_refuses_cycle_timers(db_session):
    timer = (BPMN_DIR / "timer.bpmn").read_text()
    cycle = timer.replace("<bpmn:timeDuration>", "<bpmn:timeCycle>").replace(
        "</bpmn:timeDuration>", "</bpmn:timeCycle>"
    )
    with pytest.raises(InvalidBpmn, match="cycle"):
        deploy_sources(db_session, {"timer.bpmn": cycle.encode()})


def test_the_script_engine_refuses_reaching_past_task_data():
    environment = spiff.CardOfficeScriptEngine().environment
    with pytest.raises(ValueError, match="not allowed"):
        environment.evaluate("().__class__.__base__.__subclasses__()", {})
    leak = '"{0.__self__.__loader__.find_spec.__func__.__globals__[sys]}".format(abs)'
    with pytest.raises(ValueError, match="format is not allowed"):
        environment.evaluate(leak, {})
    assert environment.evaluate("len(votes) == 2", {"votes": ["a", "b"]}) is True


def test_a_due_date_passed_without_firing_is_recorded_as_cancelled(
    db_session, deployed, people, env_for, person, dept
):
    data = {"person_id": person.id, "reason": "入职"}
    with time_machine.travel(NOW, tick=False):
        instance = instances.start_instance(
            env_for(people["applicant"]), "approval", "T-9", data, dept.id
        )
    (row,) = runtime.open_tasks(db_session, instance.id)
    # The engine's clock is past the due date, but no worker fired the timer.
    with time_machine.travel(NOW + DAY, tick=False):
        tasks.complete(env_for(people["approver"], later=3 * DAY), row.id, APPROVE)
    (timer,) = db_session.scalars(select(Timer).where(Timer.instance_id == instance.id))
    assert (timer.state, timer.fired_at) == (TaskState.CANCELLED, None)

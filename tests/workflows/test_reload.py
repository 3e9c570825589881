"""Save and reload: every test process is driven to its end, and after every step the
workflow is reloaded from the stored state (instance expired, spec cache emptied) and must
show the same tasks, the same ready tasks with the same data, and the same timers."""

import json
from datetime import timedelta

import pytest
import time_machine

from tests.conftest import NOW
from tests.workflows.test_deploy import sources, with_kind_form
from workflows import instances, runtime, spiff
from workflows.deploy import deploy_sources
from workflows.identity import Role
from workflows.models import HumanTask, InstanceStatus, TaskState

APPROVE = {"decision": "approve"}
REJECT = {"decision": "reject", "comment": "不同意"}


def snapshot(workflow) -> dict:
    """What must survive a reload: every task's spec and state, the ready user tasks with their
    data, the waiting timers and whether the workflow is done."""
    return {
        "tasks": {str(t.id): (t.task_spec.name, t.state) for t in workflow.get_tasks()},
        "ready": sorted(
            (i.spiff_task_id, i.name, json.dumps(i.data, sort_keys=True), str(i.due_at))
            for i in spiff.ready_user_tasks(workflow)
        ),
        "timers": sorted(spiff.waiting_timers(workflow)),
        "completed": workflow.is_completed(),
    }


def reloaded(env, instance) -> dict:
    """The snapshot of the instance's workflow read back from the database."""
    env.session.flush()
    env.session.expire(instance)
    spiff._SPEC_CACHE.clear()  # restore the spec from the definition row too
    return snapshot(runtime.open_workflow(env, instance))


def open_rows(session, instance) -> list[HumanTask]:
    return runtime.open_tasks(session, instance.id)


class Driver:
    """Runs an instance step by step as `tasks.complete` and the timer worker do, keeping the
    in-memory workflow to compare with the reloaded one after each step."""

    def __init__(self, session, env_for, people, instance):
        self.session, self.env_for, self.people, self.instance = session, env_for, people, instance
        self.now = NOW
        self.steps = 0

    def check(self, workflow) -> None:
        before = snapshot(workflow)
        env = self.env_for(self.people["admin"], at=self.now)
        after = reloaded(env, self.instance)
        assert after == before, f"step {self.steps}"
        live = self.instance.status in (InstanceStatus.RUNNING, InstanceStatus.INCIDENT)
        expected = {key for key, *_ in after["ready"]} if live else set()
        assert {row.spiff_task_id for row in open_rows(self.session, self.instance)} == expected
        self.steps += 1

    def start(self):
        env = self.env_for(self.people["admin"], at=self.now)
        self.check(runtime.open_workflow(env, self.instance))

    def complete(self, row: HumanTask, user, data: dict) -> None:
        env = self.env_for(user, at=self.now)
        workflow = runtime.open_workflow(env, self.instance)
        spiff.complete_user_task(spiff.find_task(workflow, row.spiff_task_id), data)
        row.state, row.completed_at, row.completed_by_id = TaskState.COMPLETED, env.now, user.id
        runtime.run_engine(env, self.instance, workflow)
        runtime.save(env, self.instance, workflow)
        self.check(workflow)

    def wait(self, delta: timedelta) -> None:
        self.now += delta
        env = self.env_for(None, at=self.now)
        workflow = runtime.open_workflow(env, self.instance)
        with time_machine.travel(self.now, tick=False):
            assert spiff.fire_due_timers(workflow, env.now) >= 1
            runtime.run_engine(env, self.instance, workflow)
        runtime.save(env, self.instance, workflow)
        self.check(workflow)


def start(env_for, who, process_id, data=None, department_id=None, key="RL-1"):
    with time_machine.travel(NOW, tick=False):
        return instances.start_instance(env_for(who), process_id, key, data or {}, department_id)


@pytest.fixture
def approval(db_session, deployed, people, env_for, make, dept):
    person = make.person(department=dept)
    data = {"person_id": person.id, "reason": "入职"}
    instance = start(env_for, people["applicant"], "approval", data, dept.id)
    driver = Driver(db_session, env_for, people, instance)
    driver.start()
    return driver


def test_approval_to_the_card(db_session, approval, people):
    (review,) = open_rows(db_session, approval.instance)
    approval.wait(timedelta(days=2))  # the boundary timer fires; the review stays
    assert [r.id for r in open_rows(db_session, approval.instance)] == [review.id]
    approval.complete(review, people["approver"], APPROVE)
    (office,) = open_rows(db_session, approval.instance)
    approval.complete(office, people["clerk"], APPROVE)
    assert approval.instance.status == InstanceStatus.COMPLETED
    assert approval.steps == 4


@pytest.mark.parametrize("at", ["dept_review", "office_review"])
def test_approval_rejected(db_session, approval, people, at):
    (review,) = open_rows(db_session, approval.instance)
    approval.complete(review, people["approver"], REJECT if at == "dept_review" else APPROVE)
    if at == "office_review":
        (office,) = open_rows(db_session, approval.instance)
        approval.complete(office, people["clerk"], REJECT)
    assert approval.instance.status == InstanceStatus.COMPLETED


def test_approval_through_an_incident(db_session, approval, people):
    from tests.workflows import support

    (review,) = open_rows(db_session, approval.instance)
    approval.complete(review, people["approver"], APPROVE)
    (office,) = open_rows(db_session, approval.instance)
    support.FAILURES["issue_card"] = 1
    approval.complete(office, people["clerk"], APPROVE)
    assert approval.instance.status == InstanceStatus.INCIDENT
    incident = runtime.open_incident_of(db_session, approval.instance.id)
    instances.retry_incident(approval.env_for(people["admin"]), incident.id)
    assert approval.instance.status == InstanceStatus.COMPLETED
    approval.check(runtime.open_workflow(approval.env_for(people["admin"]), approval.instance))


@pytest.mark.parametrize(
    ("process_id", "decisions", "end"),
    [
        ("allsign", [APPROVE, APPROVE, APPROVE], "approved"),
        ("allsign", [APPROVE, REJECT], "rejected"),
        ("anysign", [APPROVE], "approved"),
        ("anysign", [REJECT], "rejected"),
    ],
)
def test_multi_instance(db_session, deployed, people, env_for, make_user, dept, process_id,
                        decisions, end):  # fmt: skip
    signers = [people["clerk"], people["clerk2"], make_user(Role.CARD_OFFICE)]
    instance = start(env_for, people["applicant"], process_id, {}, dept.id)
    driver = Driver(db_session, env_for, people, instance)
    driver.start()
    for decision in decisions:
        row = open_rows(db_session, instance)[0]
        user = next(u for u in signers if u.id == row.assignee_id)
        driver.complete(row, user, decision)
    assert instance.status == InstanceStatus.COMPLETED
    workflow = runtime.open_workflow(env_for(people["admin"]), instance)
    done = {t.task_spec.bpmn_id for t in workflow.get_tasks(state=spiff.TaskState.COMPLETED)}
    assert end in done


def test_timer(db_session, deployed, people, env_for):
    instance = start(env_for, people["clerk"], "timer")
    driver = Driver(db_session, env_for, people, instance)
    driver.start()
    assert open_rows(db_session, instance) == []
    driver.wait(timedelta(days=1))
    (row,) = open_rows(db_session, instance)
    driver.complete(row, people["clerk"], APPROVE)
    assert instance.status == InstanceStatus.COMPLETED


def test_rules(db_session, people, env_for):
    deploy_sources(db_session, with_kind_form(sources()))
    instance = start(env_for, people["clerk"], "rules", {"kind": "reissue"})
    driver = Driver(db_session, env_for, people, instance)
    driver.start()
    (row,) = open_rows(db_session, instance)
    workflow = runtime.open_workflow(env_for(people["clerk"]), instance)
    assert spiff.find_task(workflow, row.spiff_task_id).data["fee"] == 2000
    driver.complete(row, people["clerk"], APPROVE)
    assert instance.status == InstanceStatus.COMPLETED


def test_every_test_process_is_covered(db_session, deployed):
    assert {d.key for d in deployed if d.kind == "process"} == {
        "approval", "allsign", "anysign", "timer", "rules",
    }  # fmt: skip

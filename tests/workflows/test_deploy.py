"""Deploying BPMN and DMN: versions, unchanged content, all-or-nothing refusals naming the
file and line, and DMN tables used by business-rule tasks."""

import pytest
from marshmallow import Schema, fields
from sqlalchemy import func, select

from forms import register_form
from tests.workflows.conftest import BPMN_DIR
from workflows import instances, runtime, spiff, tasks
from workflows.deploy import deploy_directory, deploy_sources, latest_definition
from workflows.errors import InvalidBpmn
from workflows.identity import Role
from workflows.models import (
    DecisionDefinition,
    HumanTask,
    InstanceStatus,
    ProcessDefinition,
    TaskState,
)

PROCESSES = {"allsign", "anysign", "approval", "rules", "timer"}


@register_form("test_fee_kind")
class FeeKindForm(Schema):
    """A start form carrying the `kind` the fee table decides on."""

    kind = fields.String(required=True)


def sources() -> dict[str, bytes]:
    """The test directory's files as {name: bytes}."""
    paths = sorted(BPMN_DIR.glob("*.bpmn")) + sorted(BPMN_DIR.glob("*.dmn"))
    return {p.name: p.read_bytes() for p in paths}


def edited(name: str, old: str, new: str) -> dict[str, bytes]:
    """The test files with one replacement in `name` (which must apply exactly once)."""
    files = sources()
    text = files[name].decode()
    assert text.count(old) == 1, f"{old!r} not found once in {name}"
    files[name] = text.replace(old, new).encode()
    return files


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def line_of(files: dict[str, bytes], name: str, needle: str) -> int:
    """The 1-based line of `needle` in file `name`."""
    for number, line in enumerate(files[name].decode().splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {name}")


def test_first_deploy_creates_version_one_of_everything(db_session):
    results = deploy_directory(db_session, BPMN_DIR)
    outcomes = {(r.kind, r.key): (r.version, r.outcome) for r in results}
    assert outcomes == {
        **{("process", key): (1, "new") for key in PROCESSES},
        ("decision", "fee_table"): (1, "new"),
    }
    rows = db_session.scalars(select(ProcessDefinition)).all()
    assert {(r.process_id, r.version) for r in rows} == {(key, 1) for key in PROCESSES}
    approval = latest_definition(db_session, "approval")
    assert approval.file_name == "approval.bpmn"
    assert approval.start_form == "test_request"
    assert approval.start_role == "applicant"
    assert approval.lanes["office_review"] == "card_office"
    rules = latest_definition(db_session, "rules")
    assert set(rules.sources) == {"rules.bpmn", "fee_table.dmn"}
    decision = db_session.scalars(select(DecisionDefinition)).one()
    assert (decision.decision_id, decision.version) == ("fee_table", 1)


def test_deploying_again_deploys_nothing(db_session):
    deploy_directory(db_session, BPMN_DIR)
    again = deploy_directory(db_session, BPMN_DIR)
    assert {r.outcome for r in again} == {"unchanged"}
    assert {r.version for r in again} == {1}
    assert count(db_session, ProcessDefinition) == len(PROCESSES)
    assert count(db_session, DecisionDefinition) == 1


def test_changed_file_is_a_new_version_and_running_instances_stay(
    db_session, people, env_for, make, dept
):
    deploy_directory(db_session, BPMN_DIR)
    person = make.person(department=dept)
    applicant = env_for(people["applicant"])
    data = {"person_id": person.id, "reason": "入职"}
    old = instances.start_instance(applicant, "approval", "V-1", data, dept.id)
    v1 = old.definition_id

    files = edited("approval.bpmn", 'name="卡务中心审核"', 'name="卡务中心复核"')
    results = {r.key: r for r in deploy_sources(db_session, files)}
    assert (results["approval"].version, results["approval"].outcome) == (2, "version")
    assert results["timer"].outcome == "unchanged"
    v2 = latest_definition(db_session, "approval")
    assert v2.version == 2 and v2.id != v1

    new = instances.start_instance(applicant, "approval", "V-2", data, dept.id)
    assert new.definition_id == v2.id
    db_session.expire(old)
    assert old.definition_id == v1

    for instance, office_title in ((old, "卡务中心审核"), (new, "卡务中心复核")):
        review = runtime.open_tasks(db_session, instance.id)[0]
        tasks.complete(env_for(people["approver"]), review.id, {"decision": "approve"})
        office = runtime.open_tasks(db_session, instance.id)[0]
        assert (office.task_name, office.title) == ("office_review", office_title)
        if instance is new:  # the person has a card by now: refuse instead of issuing twice
            tasks.complete(
                env_for(people["clerk"]), office.id, {"decision": "reject", "comment": "重复"}
            )
        else:
            tasks.complete(env_for(people["clerk"]), office.id, {"decision": "approve"})
        assert instance.status == InstanceStatus.COMPLETED
    assert old.definition_id == v1


@pytest.mark.parametrize(
    ("name", "old", "new", "needle", "reason"),
    [
        pytest.param(
            "approval.bpmn", '<bpmn:endEvent id="done" name="办结">',
            '<bpmn:endEvent id="done" name="办结"', '<bpmn:endEvent id="done"', None,
            id="malformed-xml",
        ),
        pytest.param(
            "timer.bpmn", '<bpmn:userTask id="follow_up" name="跟进">',
            '<bpmn:userTask id="follow_up" name="跟进" priority="high">',
            '<bpmn:userTask id="follow_up"', "priority", id="schema-invalid",
        ),
        pytest.param(
            "approval.bpmn", "<bpmn:flowNodeRef>office_review</bpmn:flowNodeRef>", "",
            '<bpmn:userTask id="office_review"', "office_review", id="user-task-outside-lane",
        ),
        pytest.param(
            "rules.bpmn", '<spiffworkflow:property name="form" value="decision"/>',
            '<spiffworkflow:property name="form" value="no_such_form"/>',
            '<bpmn:userTask id="collect"', "no_such_form", id="unknown-form",
        ),
        pytest.param(
            "approval.bpmn", 'serviceTaskOperator id="test.issue_card"',
            'serviceTaskOperator id="test.no_such_action"', "test.no_such_action",
            "test.no_such_action", id="unknown-service-action",
        ),
        pytest.param(
            "rules.bpmn", "<spiffworkflow:calledDecisionId>",
            "<spiffworkflow:preScript>kind = ().__class__</spiffworkflow:preScript>"
            "<spiffworkflow:calledDecisionId>", "<spiffworkflow:preScript>", "__class__",
            id="unsafe-pre-script",
        ),
        pytest.param(
            "approval.bpmn", '<spiffworkflow:property name="form" value="test_request"/>',
            '<spiffworkflow:property name="form" value="test_request"/><spiffworkflow:property '
            'name="start_roles" value="card_office janitor"/>',
            '<bpmn:startEvent id="start"', "start_roles", id="start-role-not-a-role",
        ),
    ],
)  # fmt: skip
def test_a_broken_file_refuses_the_whole_batch(db_session, name, old, new, needle, reason):
    files = edited(name, old, new)
    # A valid change in the same batch must not be deployed either.
    files["allsign.bpmn"] = files["allsign.bpmn"].replace(
        b'name="\xe4\xbc\x9a\xe7\xad\xbe"', b'name="all-sign"', 1
    )
    with pytest.raises(InvalidBpmn) as caught:
        deploy_sources(db_session, files)
    error = caught.value
    assert error.params["file"] == name
    assert error.params["line"] == line_of(files, name, needle)
    if reason is not None:
        assert reason in error.params["reason"]
    assert name in error.message("en") and "nothing was deployed" in error.message("en")
    assert count(db_session, ProcessDefinition) == 0
    assert count(db_session, DecisionDefinition) == 0


def test_a_broken_file_leaves_earlier_versions_alone(db_session):
    deploy_directory(db_session, BPMN_DIR)
    files = edited("timer.bpmn", '"P1D"', '"P2D"')
    files = {**files, "approval.bpmn": files["approval.bpmn"].replace(b"</bpmn:definitions>", b"")}
    with pytest.raises(InvalidBpmn) as caught:
        deploy_sources(db_session, files)
    assert caught.value.params["file"] == "approval.bpmn"
    assert latest_definition(db_session, "timer").version == 1
    assert count(db_session, ProcessDefinition) == len(PROCESSES)


def with_kind_form(files: dict[str, bytes]) -> dict[str, bytes]:
    """`files` with rules.bpmn's start event taking the `kind` (the test file has no form)."""
    start = '<bpmn:startEvent id="start" name="开始">'
    form = (
        "<bpmn:extensionElements><spiffworkflow:properties>"
        '<spiffworkflow:property name="form" value="test_fee_kind"/>'
        "</spiffworkflow:properties></bpmn:extensionElements>"
    )
    rules = files["rules.bpmn"].decode()
    assert rules.count(start) == 1
    return {**files, "rules.bpmn": rules.replace(start, start + form).encode()}


def start_rules(env, kind: str, key: str = "R-1"):
    """A `rules` instance for `kind` and its workflow's open `collect` task."""
    instance = instances.start_instance(env, "rules", key, {"kind": kind})
    assert instance.status == InstanceStatus.RUNNING
    (row,) = runtime.open_tasks(env.session, instance.id)
    assert row.task_name == "collect"
    task = spiff.find_task(runtime.open_workflow(env, instance), row.spiff_task_id)
    return instance, row, task


@pytest.mark.parametrize(("kind", "fee"), [("temporary", 2500), ("reissue", 2000), ("first", 0)])
def test_business_rule_task_uses_the_decision_table(db_session, env_for, make_user, kind, fee):
    deploy_sources(db_session, with_kind_form(sources()))
    clerk = env_for(make_user(Role.CARD_OFFICE))
    instance, row, task = start_rules(clerk, kind)
    assert (task.data["kind"], task.data["fee"]) == (kind, fee)
    tasks.complete(clerk, row.id, {"decision": "approve"})
    assert instance.status == InstanceStatus.COMPLETED
    assert db_session.get(HumanTask, row.id).state == TaskState.COMPLETED


def test_a_changed_decision_table_is_a_new_version(db_session, env_for, make_user):
    files = with_kind_form(sources())
    deploy_sources(db_session, files)
    clerk = env_for(make_user(Role.CARD_OFFICE))
    old, old_row, _task = start_rules(clerk, "temporary")

    table = files["fee_table.dmn"].replace(b"<text>2500</text>", b"<text>3000</text>")
    results = {
        (r.kind, r.key): r for r in deploy_sources(db_session, {**files, "fee_table.dmn": table})
    }
    decision = results["decision", "fee_table"]
    assert (decision.version, decision.outcome) == (2, "version")
    # The process parsed with the table is a new version; the ones not using it are not.
    assert (results["process", "rules"].version, results["process", "rules"].outcome) == (
        2, "version",
    )  # fmt: skip
    assert {results["process", key].outcome for key in PROCESSES - {"rules"}} == {"unchanged"}
    rows = db_session.scalars(
        select(DecisionDefinition).where(DecisionDefinition.decision_id == "fee_table")
    ).all()
    assert sorted((r.version, "<text>3000</text>" in r.source) for r in rows) == [
        (1, False), (2, True),
    ]  # fmt: skip

    new, _row, task = start_rules(clerk, "temporary", "R-2")
    assert task.data["fee"] == 3000
    assert new.definition.version == 2
    # The instance started on the old table keeps its fee and its version.
    task = spiff.find_task(runtime.open_workflow(clerk, old), old_row.spiff_task_id)
    assert task.data["fee"] == 2500
    assert old.definition.version == 1
    tasks.complete(clerk, old_row.id, {"decision": "approve"})
    assert old.status == InstanceStatus.COMPLETED

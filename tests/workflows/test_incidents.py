"""A failing service action: the instance stops at an incident with the action's ledger writes
rolled back; an administrator retries (until it works) or cancels."""

import pytest
from sqlalchemy import select

from ledger.base import Base
from ledger.check import check_ledger
from ledger.models.cards import Card
from tests.workflows import support
from workflows import instances, runtime, tasks
from workflows.errors import NotAllowed, NotFound, WrongInstanceState
from workflows.models import AuditEntry, Incident, IncidentState, InstanceStatus, TaskState

LEDGER_TABLES = (
    "ledger_accounts", "card_accounts", "cards", "card_events", "holds", "journal_entries",
    "postings", "refunds", "settlements", "idempotency_keys",
)  # fmt: skip


def ledger_snapshot(session) -> dict[str, list[tuple]]:
    """Every row of every ledger table, in primary-key order."""
    session.flush()
    snapshot = {}
    for name in LEDGER_TABLES:
        table = Base.metadata.tables[name]
        rows = session.execute(select(table).order_by(*table.primary_key.columns))
        snapshot[name] = [tuple(row) for row in rows]
    return snapshot


def cards_of(session, person_id: int) -> list[Card]:
    return list(session.scalars(select(Card).where(Card.person_id == person_id)))


@pytest.fixture
def failing(db_session, deployed, people, env_for, make, dept):
    """An approval request whose card issue failed once: (instance, person, ledger before)."""
    person = make.person(department=dept)
    data = {"person_id": person.id, "reason": "入职"}
    instance = instances.start_instance(
        env_for(people["applicant"]), "approval", "I-1", data, dept.id
    )
    (review,) = runtime.open_tasks(db_session, instance.id)
    tasks.complete(env_for(people["approver"]), review.id, {"decision": "approve"})
    (office,) = runtime.open_tasks(db_session, instance.id)
    before = ledger_snapshot(db_session)
    support.FAILURES["issue_card"] = 1
    tasks.complete(env_for(people["clerk"]), office.id, {"decision": "approve"})
    return instance, person, before


def test_a_failing_action_opens_an_incident_and_leaves_the_ledger_alone(db_session, failing):
    instance, person, before = failing
    assert support.FAILURES["issue_card"] == 0  # the action did run (and wrote) before raising
    assert instance.status == InstanceStatus.INCIDENT
    incident = runtime.open_incident_of(db_session, instance.id)
    assert incident is not None
    assert (incident.task_name, incident.action, incident.attempts) == (
        "issue", "test.issue_card", 1,
    )  # fmt: skip
    assert "card printer offline" in incident.error
    assert incident.state == IncidentState.OPEN
    assert cards_of(db_session, person.id) == []
    assert ledger_snapshot(db_session) == before
    assert check_ledger(db_session) == []
    assert runtime.open_tasks(db_session, instance.id) == []
    assert instance.ended_at is None


def test_retry_fails_again_then_succeeds(db_session, failing, people, env_for):
    instance, person, before = failing
    admin = env_for(people["admin"])
    incident = runtime.open_incident_of(db_session, instance.id)

    support.FAILURES["issue_card"] = 1
    instances.retry_incident(admin, incident.id)
    assert support.FAILURES["issue_card"] == 0
    assert instance.status == InstanceStatus.INCIDENT
    assert incident.attempts == 2
    assert incident.state == IncidentState.OPEN
    assert db_session.scalars(select(Incident)).all() == [incident]  # the same incident
    assert cards_of(db_session, person.id) == []
    assert ledger_snapshot(db_session) == before

    instances.retry_incident(admin, incident.id)
    assert incident.state == IncidentState.RESOLVED
    assert instance.status == InstanceStatus.COMPLETED
    assert instance.ended_at is not None
    (card,) = cards_of(db_session, person.id)
    assert ledger_snapshot(db_session) != before
    assert check_ledger(db_session) == []
    retries = db_session.scalars(
        select(AuditEntry)
        .where(AuditEntry.instance_id == instance.id, AuditEntry.action == "retry")
        .order_by(AuditEntry.seq)
    ).all()
    assert [(r.details["attempt"], r.details["ok"]) for r in retries] == [(2, False), (3, True)]
    # A resolved incident cannot be retried again.
    with pytest.raises(NotFound):
        instances.retry_incident(admin, incident.id)
    assert len(cards_of(db_session, person.id)) == 1


def test_cancel_incident_terminates_the_request(db_session, failing, people, env_for):
    instance, person, before = failing
    incident = runtime.open_incident_of(db_session, instance.id)
    instances.cancel_incident(env_for(people["admin"]), incident.id, "打印机故障，线下办理")
    assert instance.status == InstanceStatus.TERMINATED
    assert instance.ended_at is not None
    assert incident.state == IncidentState.CANCELLED
    assert runtime.open_incident_of(db_session, instance.id) is None
    assert cards_of(db_session, person.id) == []
    assert ledger_snapshot(db_session) == before
    last = db_session.scalars(
        select(AuditEntry)
        .where(AuditEntry.instance_id == instance.id)
        .order_by(AuditEntry.seq.desc())
    ).first()
    assert (last.action, last.state_after) == ("terminate", "terminated")
    with pytest.raises(NotFound):
        instances.retry_incident(env_for(people["admin"]), incident.id)


@pytest.mark.parametrize("who", ["applicant", "approver", "clerk"])
def test_only_an_administrator_may_retry_or_cancel(db_session, failing, people, env_for, who):
    instance, person, before = failing
    incident = runtime.open_incident_of(db_session, instance.id)
    with pytest.raises(NotAllowed):
        instances.retry_incident(env_for(people[who]), incident.id)
    with pytest.raises(NotAllowed):
        instances.cancel_incident(env_for(people[who]), incident.id)
    assert incident.attempts == 1
    assert incident.state == IncidentState.OPEN
    assert instance.status == InstanceStatus.INCIDENT
    assert cards_of(db_session, person.id) == []


def test_tasks_decided_before_the_incident_stay_completed(db_session, failing):
    instance, _person, _before = failing
    rows = db_session.scalars(
        select(runtime.HumanTask).where(runtime.HumanTask.instance_id == instance.id)
    ).all()
    assert sorted((r.task_name, r.state, r.decision) for r in rows) == [
        ("dept_review", TaskState.COMPLETED, "approve"),
        ("office_review", TaskState.COMPLETED, "approve"),
    ]


def test_a_suspended_request_is_resumed_before_its_retry(db_session, failing, people, env_for):
    instance, person, before = failing
    admin = env_for(people["admin"])
    incident = runtime.open_incident_of(db_session, instance.id)
    instances.suspend(admin, instance.id, "核查中")
    with pytest.raises(WrongInstanceState):
        instances.retry_incident(admin, incident.id)
    assert (instance.status, incident.attempts) == (InstanceStatus.SUSPENDED, 1)
    assert ledger_snapshot(db_session) == before
    instances.resume(admin, instance.id)
    assert instance.status == InstanceStatus.INCIDENT
    instances.retry_incident(admin, incident.id)
    assert instance.status == InstanceStatus.COMPLETED
    assert len(cards_of(db_session, person.id)) == 1

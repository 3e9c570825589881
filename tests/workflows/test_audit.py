"""The audit trail: one row per action, chained by hash per instance; the database refuses to
change or delete a row, and a change made behind its back is found by `verify_chains`."""

from contextlib import contextmanager

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from workflows import audit, instances, runtime, tasks
from workflows.audit import BrokenLink, verify_chains
from workflows.ddl import install_triggers
from workflows.models import GENESIS, AuditEntry, InstanceStatus

DROP = {
    "postgresql": ["DROP TRIGGER trg_audit_entries_append_only ON audit_entries"],
    "sqlite": [
        "DROP TRIGGER trg_audit_entries_no_update",
        "DROP TRIGGER trg_audit_entries_no_delete",
    ],
}


def rows_of(session, instance_id: int) -> list[AuditEntry]:
    session.flush()
    query = select(AuditEntry).where(AuditEntry.instance_id == instance_id)
    return list(session.scalars(query.order_by(AuditEntry.seq)))


@pytest.fixture
def request_(db_session, deployed, people, env_for, make, dept):
    """A started approval request."""
    person = make.person(department=dept)
    data = {"person_id": person.id, "reason": "入职"}
    return instances.start_instance(env_for(people["applicant"]), "approval", "A-1", data, dept.id)


@pytest.fixture
def finished(db_session, request_, people, env_for):
    """The request, carried through comment, urge, copy and both approvals to its end."""
    applicant = env_for(people["applicant"])
    instances.add_comment(applicant, request_.id, "请尽快")
    instances.urge(applicant, request_.id)
    instances.copy_to(applicant, request_.id, [people["clerk2"].id])
    (review,) = runtime.open_tasks(db_session, request_.id)
    tasks.complete(env_for(people["approver"]), review.id, {"decision": "approve"})
    (office,) = runtime.open_tasks(db_session, request_.id)
    tasks.complete(env_for(people["clerk"]), office.id, {"decision": "approve"})
    assert request_.status == InstanceStatus.COMPLETED
    return request_


def test_every_action_appends_one_chained_row(db_session, request_, people, env_for):
    applicant = env_for(people["applicant"])
    seen = ["start"]

    def step(action, fn, *args):
        fn(*args)
        seen.append(action)
        rows = rows_of(db_session, request_.id)
        assert [r.action for r in rows] == seen
        assert [r.seq for r in rows] == list(range(1, len(seen) + 1))
        assert (request_.audit_seq, request_.audit_head) == (rows[-1].seq, rows[-1].hash)
        assert verify_chains(db_session, request_.id) == []

    assert [r.action for r in rows_of(db_session, request_.id)] == seen
    step("comment", instances.add_comment, applicant, request_.id, "请尽快")
    step("urge", instances.urge, applicant, request_.id)
    (review,) = runtime.open_tasks(db_session, request_.id)
    step("approve", tasks.complete, env_for(people["approver"]), review.id, {"decision": "approve"})
    (office,) = runtime.open_tasks(db_session, request_.id)
    step("claim", tasks.claim, env_for(people["clerk"]), office.id)
    step("approve", tasks.complete, env_for(people["clerk"]), office.id, {"decision": "approve"})

    rows = rows_of(db_session, request_.id)
    assert rows[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(rows, rows[1:], strict=False))
    assert all(r.hash == audit.row_hash(r) for r in rows)
    assert len({r.hash for r in rows}) == len(rows)
    assert rows[3].actor_id == people["approver"].id
    assert (rows[3].task_name, rows[3].state_before) == ("dept_review", "部门审核")
    assert rows[-1].state_after == "completed"
    assert verify_chains(db_session) == []


def test_chains_are_per_instance(db_session, request_, people, env_for, make, dept):
    person = make.person(department=dept)
    data = {"person_id": person.id, "reason": "补卡"}
    other = instances.start_instance(env_for(people["applicant"]), "approval", "A-2", data, dept.id)
    instances.add_comment(env_for(people["applicant"]), other.id, "第二份")
    assert [r.seq for r in rows_of(db_session, request_.id)] == [1]
    assert [r.seq for r in rows_of(db_session, other.id)] == [1, 2]
    assert verify_chains(db_session) == []


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_entries SET comment = 'forged' WHERE seq = 2",
        "UPDATE audit_entries SET hash = prev_hash",
        "DELETE FROM audit_entries WHERE seq = 3",
        "DELETE FROM audit_entries",
    ],
)
def test_the_database_refuses_update_and_delete(db_session, finished, statement):
    before = [(r.id, r.comment, r.hash) for r in rows_of(db_session, finished.id)]
    with pytest.raises(DBAPIError, match="append-only"), db_session.begin_nested():
        db_session.execute(text(statement))
    db_session.expire_all()
    assert [(r.id, r.comment, r.hash) for r in rows_of(db_session, finished.id)] == before


def test_the_orm_cannot_change_a_row_either(db_session, finished):
    row = rows_of(db_session, finished.id)[1]
    with pytest.raises(DBAPIError, match="append-only"), db_session.begin_nested():
        row.comment = "forged"
        db_session.flush()
    with pytest.raises(DBAPIError, match="append-only"), db_session.begin_nested():
        db_session.delete(rows_of(db_session, finished.id)[0])
        db_session.flush()


@contextmanager
def without_triggers(session):
    """Drop the append-only triggers inside a savepoint that is rolled back afterwards (so
    the tampering, too, is undone)."""
    savepoint = session.begin_nested()
    for statement in DROP[session.bind.dialect.name]:
        session.execute(text(statement))
    try:
        yield
    finally:
        savepoint.rollback()
        session.expire_all()


def tamper(session, statement: str, **params) -> list[BrokenLink]:
    """Run `statement` with the triggers gone and return what a fresh read verifies."""
    session.execute(text(statement), params)
    session.expire_all()  # as a fresh session would read the rows
    return verify_chains(session)


@pytest.mark.parametrize(
    ("statement", "seq", "reason"),
    [
        ("UPDATE audit_entries SET comment = 'forged' WHERE instance_id = :i AND seq = 2", 2,
         "row was changed"),
        ("UPDATE audit_entries SET actor_id = NULL WHERE instance_id = :i AND seq = 4", 4,
         "row was changed"),
        ("UPDATE audit_entries SET details = '{}' WHERE instance_id = :i AND seq = 5", 5,
         "row was changed"),
        ("DELETE FROM audit_entries WHERE instance_id = :i AND seq = 3", 4, "expected seq 3"),
        ("DELETE FROM audit_entries WHERE instance_id = :i AND seq = 6", 6,
         "rows missing at the end of the chain"),
    ],
)  # fmt: skip
def test_tampering_is_detected(db_session, finished, statement, seq, reason):
    rows = rows_of(db_session, finished.id)
    assert [r.action for r in rows] == ["start", "comment", "urge", "copy", "approve", "approve"]
    with without_triggers(db_session):
        broken = tamper(db_session, statement, i=finished.id)
        assert broken and broken[0] == BrokenLink(finished.id, seq, reason)
        assert {link.instance_id for link in broken} == {finished.id}
        assert verify_chains(db_session, finished.id) == broken
    # The savepoint is gone: rows and triggers are back.
    assert verify_chains(db_session) == []
    with pytest.raises(DBAPIError, match="append-only"), db_session.begin_nested():
        db_session.execute(text("DELETE FROM audit_entries"))


def test_a_rewritten_row_with_a_recomputed_hash_breaks_the_next_link(db_session, finished):
    rows = rows_of(db_session, finished.id)
    forged = rows[2]
    with without_triggers(db_session):
        forged.comment = "forged"
        forged.hash = audit.row_hash(forged)
        db_session.flush()
        db_session.expire_all()
        assert verify_chains(db_session) == [BrokenLink(finished.id, 4, "previous hash differs")]


def test_reinstalled_triggers_refuse_again(db_session, finished):
    with without_triggers(db_session):
        install_triggers(db_session.connection())
        with pytest.raises(DBAPIError, match="append-only"), db_session.begin_nested():
            db_session.execute(text("UPDATE audit_entries SET comment = 'x'"))

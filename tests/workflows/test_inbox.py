"""The inbox: pages newest first by keyset, each scope's tasks once, counts, and a fixed
number of statements per page whatever the number of open tasks."""

from datetime import timedelta

import pytest
from sqlalchemy import event

from workflows import inbox, instances, tasks
from workflows.identity import Role

MINUTE = timedelta(minutes=1)


@pytest.fixture
def filed(deployed, people, env_for, make, dept):
    """`filed(n)`: n approval requests a minute apart, each waiting at dept_review."""

    def file(n: int, prefix: str = "P"):
        return [
            instances.start_instance(
                env_for(people["applicant"], later=i * MINUTE), "approval", f"{prefix}-{i}",
                {"person_id": make.person(department=dept).id, "reason": "入职"}, dept.id,
            )
            for i in range(n)
        ]  # fmt: skip

    return file


def test_pages_run_newest_first_without_gaps_or_repeats(db_session, filed, people, env_for):
    filed(25)
    scope = inbox.scope_of(db_session, people["approver"], env_for(people["approver"]).today)
    first = inbox.inbox_page(db_session, scope, limit=20)
    last = first[-1]
    second = inbox.inbox_page(db_session, scope, limit=20, after=(last.created_at, last.id))
    keys = [row.business_key for row in first + second]
    assert keys == [f"P-{i}" for i in range(24, -1, -1)]
    assert inbox.inbox_count(db_session, scope) == 25


@pytest.mark.parametrize("at_most, counted", [(10, 10), (25, 25), (30, 25)])
def test_counting_stops_at_the_cap(db_session, filed, people, env_for, at_most, counted):
    filed(25)
    scope = inbox.scope_of(db_session, people["approver"], env_for(people["approver"]).today)
    assert inbox.inbox_count(db_session, scope, at_most=at_most) == counted


def test_claimed_tasks_leave_the_group_and_show_for_the_claimer(
    db_session, filed, make_user, people, env_for, dept
):
    other = make_user((Role.DEPT_APPROVER, dept.id))
    requests = filed(3)
    today = env_for(other).today
    [mine] = [row for row in inbox.inbox_page(db_session, inbox.scope_of(db_session, other, today))
              if row.instance_id == requests[0].id]  # fmt: skip
    tasks.claim(env_for(other), mine.id)
    theirs = inbox.inbox_page(db_session, inbox.scope_of(db_session, people["approver"], today))
    assert mine.id not in {row.id for row in theirs} and len(theirs) == 2
    assert inbox.inbox_count(db_session, inbox.scope_of(db_session, other, today)) == 3


def test_a_grant_for_every_department_reads_each_task_once(db_session, filed, make_user, env_for,
                                                             dept):  # fmt: skip
    both = make_user((Role.DEPT_APPROVER, dept.id), Role.DEPT_APPROVER)
    filed(4)
    scope = inbox.scope_of(db_session, both, env_for(both).today)
    assert scope.groups == (("dept_approver", None),)
    assert len(inbox.inbox_page(db_session, scope)) == inbox.inbox_count(db_session, scope) == 4


def test_a_page_takes_one_statement_whatever_the_scopes(db_session, filed, make_user, env_for):
    many = make_user(Role.CARD_OFFICE, Role.SETTLEMENT, Role.IT_CENTER, Role.HR)
    filed(3)
    scope = inbox.scope_of(db_session, many, env_for(many).today)
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    connection = db_session.connection()
    event.listen(connection, "before_cursor_execute", listener)
    try:
        inbox.inbox_page(db_session, scope)
    finally:
        event.remove(connection, "before_cursor_execute", listener)
    assert len(statements) <= 2  # the page's ids, then its rows

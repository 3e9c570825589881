"""Inbox filters: process, department, creation dates, overdue and text narrow every range of a
page and its count, page by keyset like the whole inbox, and keep a page to its statements."""

from datetime import timedelta

import pytest
from sqlalchemy import event

from tests.conftest import NOW
from workflows import away, inbox, instances, runtime, tasks
from workflows.identity import Role
from workflows.inbox import InboxFilter

MINUTE, DAY = timedelta(minutes=1), timedelta(days=1)


@pytest.fixture
def file_in(deployed, people, env_for, make, make_user):
    """`file_in(department, key, later)`: an approval request of `department` filed `later`
    than NOW by an applicant of that department, waiting at dept_review (due 2 days on)."""
    applicants = {}

    def file(department, key: str, later: timedelta = timedelta(0)):
        if department.id not in applicants:
            applicants[department.id] = make_user(
                (Role.APPLICANT, department.id), name=f"经办人{department.code}"
            )
        data = {"person_id": make.person(department=department).id, "reason": "入职"}
        env = env_for(applicants[department.id], later=later)
        return instances.start_instance(env, "approval", key, data, department.id)

    return file


@pytest.fixture
def everywhere(make_user):
    """A department approver for every department."""
    return make_user(Role.DEPT_APPROVER, name="everywhere")


def keys(db_session, user, where: InboxFilter, **kwargs) -> list[str]:
    scope = inbox.scope_of(db_session, user, NOW.date())
    return [row.business_key for row in inbox.inbox_page(db_session, scope, where=where, **kwargs)]


def test_a_department_keeps_only_its_tasks_and_its_count(db_session, file_in, dept, make,
                                                          everywhere):  # fmt: skip
    other = make.department()
    file_in(dept, "A-1"), file_in(other, "B-1", MINUTE), file_in(dept, "A-2", 2 * MINUTE)
    where = InboxFilter(department_id=dept.id)
    assert keys(db_session, everywhere, where) == ["A-2", "A-1"]
    scope = inbox.scope_of(db_session, everywhere, NOW.date())
    assert inbox.inbox_count(db_session, scope, where) == 2
    assert inbox.inbox_count(db_session, scope) == 3


def test_a_department_outside_a_grant_reads_no_range(db_session, file_in, dept, make, people):
    other = make.department()
    file_in(dept, "A-1")
    scope = inbox.scope_of(db_session, people["approver"], NOW.date())
    where = InboxFilter(department_id=other.id)
    # Only the user's own (assigned) range is read: the group range cannot match.
    assert len(list(inbox._ranges(scope, None, where))) == len(scope.assignees)
    assert keys(db_session, people["approver"], where) == []


def test_a_process_keeps_only_its_tasks(db_session, file_in, dept, people):
    file_in(dept, "A-1")
    assert keys(db_session, people["approver"], InboxFilter(process_id="approval")) == ["A-1"]
    assert keys(db_session, people["approver"], InboxFilter(process_id="allsign")) == []


def test_creation_dates_bound_the_tasks_from_inclusive_until_exclusive(db_session, file_in, dept,
                                                                       people):  # fmt: skip
    for i in range(4):
        file_in(dept, f"D-{i}", i * DAY)
    where = InboxFilter(created_from=NOW + DAY, created_until=NOW + 3 * DAY)
    assert keys(db_session, people["approver"], where) == ["D-2", "D-1"]


def test_overdue_keeps_tasks_due_before_the_moment(db_session, file_in, dept, people):
    first, second = file_in(dept, "O-0"), file_in(dept, "O-1")
    first_due = runtime.open_tasks(db_session, first.id)[0].due_at
    runtime.open_tasks(db_session, second.id)[0].due_at = first_due + DAY
    db_session.flush()
    assert keys(db_session, people["approver"], InboxFilter(overdue_at=first_due)) == []
    overdue = InboxFilter(overdue_at=first_due + MINUTE)
    assert keys(db_session, people["approver"], overdue) == ["O-0"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("key-1", ["KEY-12", "KEY-1"]),  # business key, any case
        ("经办人", ["KEY-12", "KEY-2", "KEY-1"]),  # requester's name
        ("%", []),  # a wildcard is a character like any other
        ("  KEY-2 ", ["KEY-2"]),
    ],
)
def test_text_finds_requester_or_business_key(db_session, file_in, dept, people, text, expected):
    file_in(dept, "KEY-1"), file_in(dept, "KEY-2", MINUTE), file_in(dept, "KEY-12", 2 * MINUTE)
    assert keys(db_session, people["approver"], InboxFilter(text=text)) == expected


def test_filtered_pages_run_by_keyset_without_gaps(db_session, file_in, dept, make, everywhere):
    other = make.department()
    for i in range(6):
        file_in(dept if i % 2 else other, f"P-{i}", i * MINUTE)
    where = InboxFilter(department_id=dept.id)
    scope = inbox.scope_of(db_session, everywhere, NOW.date())
    first = inbox.inbox_page(db_session, scope, limit=2, where=where)
    last = first[-1]
    second = inbox.inbox_page(db_session, scope, 2, (last.created_at, last.id), where)
    assert [row.business_key for row in first + second] == ["P-5", "P-3", "P-1"]


def test_a_filtered_page_takes_the_statements_of_an_unfiltered_one(db_session, file_in, dept,
                                                                    people):  # fmt: skip
    for i in range(3):
        file_in(dept, f"S-{i}", i * MINUTE)
    scope = inbox.scope_of(db_session, people["approver"], NOW.date())
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    connection = db_session.connection()
    event.listen(connection, "before_cursor_execute", listener)
    try:
        where = InboxFilter(process_id="approval", text="S-", overdue_at=NOW + 400 * DAY)
        rows = inbox.inbox_page(db_session, scope, where=where)
    finally:
        event.remove(connection, "before_cursor_execute", listener)
    assert len(rows) == 3 and len(statements) <= 2


# --- mine (我的任务) or group (组任务) ---------------------------------------------------------


@pytest.mark.parametrize(
    "assigned, expected", [(True, ["M-1"]), (False, ["M-2", "M-0"]), (None, ["M-2", "M-1", "M-0"])]
)
def test_mine_keeps_assigned_tasks_and_group_the_unclaimed_ones(
    db_session, file_in, dept, people, env_for, assigned, expected
):
    filed = [file_in(dept, f"M-{i}", i * MINUTE) for i in range(3)]
    tasks.claim(env_for(people["approver"]), runtime.open_tasks(db_session, filed[1].id)[0].id)
    where = InboxFilter(assigned=assigned)
    assert keys(db_session, people["approver"], where) == expected
    scope = inbox.scope_of(db_session, people["approver"], NOW.date())
    assert inbox.inbox_count(db_session, scope, where) == len(expected)


def test_mine_covers_the_tasks_of_whom_one_stands_in_for(db_session, file_in, dept, people,
                                                         env_for, make_user):  # fmt: skip
    stand_in = make_user(name="stand_in")
    filed = file_in(dept, "A-1")
    tasks.claim(env_for(people["approver"]), runtime.open_tasks(db_session, filed.id)[0].id)
    away.name_substitute(env_for(people["approver"]), stand_in.id, NOW.date(), NOW.date())
    assert keys(db_session, stand_in, InboxFilter(assigned=True)) == ["A-1"]
    assert keys(db_session, stand_in, InboxFilter(assigned=False)) == []


@pytest.mark.parametrize("assigned, reads", [(True, "assignees"), (False, "groups")])
def test_mine_or_group_leaves_the_other_ranges_unread(db_session, people, assigned, reads):
    scope = inbox.scope_of(db_session, people["approver"], NOW.date())
    ranges = list(inbox._ranges(scope, None, InboxFilter(assigned=assigned)))
    assert len(ranges) == len(getattr(scope, reads)) > 0

"""代理: while a user is away, their substitute sees and decides their tasks, on their behalf,
only on the days of the substitution."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.conftest import NOW
from workflows import away, inbox, instances, permissions, runtime, spiff, tasks
from workflows.errors import InvalidInput, NotAllowed, NotFound
from workflows.identity import Role, Substitution
from workflows.models import AuditEntry, TaskState

TODAY = NOW.date()
DAY = timedelta(days=1)


@pytest.fixture
def started(deployed, people, env_for, make, dept):
    """An approval request waiting at dept_review (a group task of the approver's role)."""
    person = make.person(department=dept)
    data = {"person_id": person.id, "reason": "入职办卡"}
    return instances.start_instance(env_for(people["applicant"]), "approval", "S-1", data, dept.id)


@pytest.fixture
def stand_in(db_session, make_user):
    """A user with no role of their own."""
    return make_user(name="stand_in")


def substitute(session, user, substitute_user, starts_on=TODAY, ends_on=TODAY + 2 * DAY):
    row = Substitution(
        user_id=user.id, substitute_id=substitute_user.id, starts_on=starts_on, ends_on=ends_on
    )
    session.add(row)
    session.flush()
    return row


def the_task(session, instance):
    rows = runtime.open_tasks(session, instance.id)
    assert len(rows) == 1
    return rows[0]


def inbox_names(session, user, day=TODAY) -> list[str]:
    scope = inbox.scope_of(session, user, day)
    return [row.task_name for row in inbox.inbox_page(session, scope)]


@pytest.mark.parametrize(
    "starts, ends, sees",
    [
        (0, 0, True),  # one day: today
        (-3, 0, True),  # ends today
        (0, 5, True),  # starts today
        (-5, 5, True),
        (1, 5, False),  # not yet
        (-5, -1, False),  # over
    ],
)
def test_substitution_shows_group_tasks_only_within_its_dates(
    db_session, started, people, stand_in, starts, ends, sees
):
    assert inbox_names(db_session, stand_in) == []
    substitute(db_session, people["approver"], stand_in, TODAY + starts * DAY, TODAY + ends * DAY)
    scope = inbox.scope_of(db_session, stand_in, TODAY)
    assert (people["approver"].id in scope.assignees) is sees
    assert (("dept_approver", started.department_id) in scope.groups) is sees
    assert inbox_names(db_session, stand_in) == (["dept_review"] if sees else [])
    assert inbox.inbox_count(db_session, scope) == int(sees)


@pytest.mark.parametrize("day, sees", [(-1, False), (0, True), (2, True), (3, False)])
def test_substitution_scope_follows_the_day_asked(db_session, started, people, stand_in, day, sees):
    substitute(db_session, people["approver"], stand_in)  # today and the next two days
    assert inbox_names(db_session, stand_in, TODAY + day * DAY) == (["dept_review"] if sees else [])


def test_substitution_shows_tasks_assigned_to_the_absent_user(
    db_session, started, people, stand_in, env_for
):
    row = the_task(db_session, started)
    tasks.claim(env_for(people["approver"]), row.id)
    substitute(db_session, people["approver"], stand_in)
    assert inbox_names(db_session, stand_in) == ["dept_review"]


def test_substitution_not_for_the_reverse_direction(db_session, started, people, stand_in):
    substitute(db_session, people["approver"], stand_in)
    assert inbox_names(db_session, people["clerk"]) == []
    scope = inbox.scope_of(db_session, people["approver"], TODAY)
    assert scope.assignees == (people["approver"].id,)


def test_substitution_decision_recorded_on_behalf(db_session, started, people, stand_in, env_for):
    substitute(db_session, people["approver"], stand_in)
    row = the_task(db_session, started)
    tasks.complete(env_for(stand_in), row.id, {"decision": "approve", "comment": "代为同意"})
    assert row.state == TaskState.COMPLETED
    assert (row.completed_by_id, row.on_behalf_of_id) == (stand_in.id, people["approver"].id)
    entry = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "approve")).one()
    assert (entry.actor_id, entry.on_behalf_of_id) == (stand_in.id, people["approver"].id)
    assert entry.human_task_id == row.id
    assert the_task(db_session, started).task_name == "office_review"


def test_substitution_claim_recorded_on_behalf(db_session, started, people, stand_in, env_for):
    substitute(db_session, people["approver"], stand_in)
    row = the_task(db_session, started)
    tasks.claim(env_for(stand_in), row.id)
    # Claimed for the absent approver: theirs when they are back, the stand-in's meanwhile.
    assert row.assignee_id == people["approver"].id
    entry = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "claim")).one()
    assert (entry.actor_id, entry.on_behalf_of_id) == (stand_in.id, people["approver"].id)
    tasks.complete(env_for(stand_in), row.id, {"decision": "approve"})
    assert (row.completed_by_id, row.on_behalf_of_id) == (stand_in.id, people["approver"].id)


def test_substitution_by_a_role_holder_is_not_on_behalf(
    db_session, started, people, make_user, env_for
):
    colleague = make_user((Role.DEPT_APPROVER, started.department_id))
    substitute(db_session, people["approver"], colleague)
    row = the_task(db_session, started)
    tasks.complete(env_for(colleague), row.id, {"decision": "approve"})
    assert (row.completed_by_id, row.on_behalf_of_id) == (colleague.id, None)


@pytest.mark.parametrize("later", [timedelta(days=-1), timedelta(days=3)])
def test_substitution_outside_its_dates_cannot_decide(
    db_session, started, people, stand_in, env_for, later
):
    substitute(db_session, people["approver"], stand_in)
    row = the_task(db_session, started)
    with pytest.raises(NotAllowed):
        tasks.complete(env_for(stand_in, later=later), row.id, {"decision": "approve"})
    assert (row.state, row.completed_by_id) == (TaskState.OPEN, None)


def test_substitution_return_to_earlier_step_goes_to_the_absent_user(
    db_session, started, people, stand_in, env_for
):
    substitute(db_session, people["approver"], stand_in)
    tasks.complete(env_for(stand_in), the_task(db_session, started).id, {"decision": "approve"})
    office = the_task(db_session, started)
    tasks.return_task(env_for(people["clerk"]), office.id, "请部门再确认", to="dept_review")
    assert the_task(db_session, started).assignee_id == people["approver"].id
    assert inbox_names(db_session, stand_in) == ["dept_review"]


def test_substitution_lets_the_substitute_view(db_session, started, people, stand_in, env_for):
    assert not permissions.can_view(env_for(stand_in), started)
    substitute(db_session, people["approver"], stand_in)
    assert permissions.can_view(env_for(stand_in), started)
    assert not permissions.can_view(env_for(stand_in, later=timedelta(days=3)), started)


def test_substitution_resubmission_recorded_on_behalf(
    db_session, started, people, stand_in, env_for
):
    tasks.return_task(env_for(people["approver"]), the_task(db_session, started).id, "请更正")
    substitute(db_session, people["applicant"], stand_in)
    resubmit = the_task(db_session, started)
    assert inbox_names(db_session, stand_in) == [tasks.SUBMITTER]
    person_id = _start_person(env_for(people["applicant"]), started)
    tasks.complete(env_for(stand_in), resubmit.id, {"person_id": person_id, "reason": "代为更正"})
    assert (resubmit.completed_by_id, resubmit.on_behalf_of_id) == (
        stand_in.id, people["applicant"].id,
    )  # fmt: skip
    entry = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "resubmit")).one()
    assert (entry.actor_id, entry.on_behalf_of_id) == (stand_in.id, people["applicant"].id)
    assert the_task(db_session, started).task_name == "dept_review"


def _start_person(env, instance) -> int:
    return spiff.start_task(runtime.open_workflow(env, instance)).data["person_id"]


# --- an administrator names a substitute for someone who cannot (fell ill) ---------------------


def test_an_admin_names_a_substitute_for_an_absent_user_who_then_decides_on_their_behalf(
    db_session, started, people, stand_in, env_for
):
    admin = env_for(people["admin"])
    row = away.name_substitute(
        admin, stand_in.id, TODAY, TODAY + 3 * DAY, for_user_id=people["approver"].id
    )
    assert (row.user_id, row.substitute_id) == (people["approver"].id, stand_in.id)
    assert inbox_names(db_session, stand_in) == ["dept_review"]
    task = the_task(db_session, started)
    tasks.complete(env_for(stand_in), task.id, {"decision": "approve"})
    assert (task.completed_by_id, task.on_behalf_of_id) == (stand_in.id, people["approver"].id)


def test_only_an_admin_names_a_substitute_for_someone_else(db_session, people, stand_in, env_for):
    for someone in ("applicant", "clerk"):
        with pytest.raises(NotAllowed):
            away.name_substitute(
                env_for(people[someone]), stand_in.id, TODAY, TODAY,
                for_user_id=people["approver"].id,
            )  # fmt: skip
    assert db_session.query(Substitution).count() == 0


def test_naming_oneself_as_the_absent_user_needs_no_admin(db_session, people, stand_in, env_for):
    approver = people["approver"]
    row = away.name_substitute(env_for(approver), stand_in.id, TODAY, TODAY, approver.id)
    assert row.user_id == approver.id


def test_an_admins_substitute_is_refused_for_an_unknown_user_or_the_user_themselves(
    db_session, people, env_for
):
    admin, approver = env_for(people["admin"]), people["approver"]
    with pytest.raises(NotFound):
        away.name_substitute(admin, approver.id, TODAY, TODAY, for_user_id=999_999)
    with pytest.raises(InvalidInput):
        away.name_substitute(admin, approver.id, TODAY, TODAY, for_user_id=approver.id)
    assert db_session.query(Substitution).count() == 0


def test_an_admins_substitute_keeps_the_date_rules_and_the_absent_users_overlaps(
    db_session, people, stand_in, env_for
):
    admin, approver = env_for(people["admin"]), people["approver"].id
    with pytest.raises(InvalidInput):  # in the past
        away.name_substitute(admin, stand_in.id, TODAY - DAY, TODAY, for_user_id=approver)
    away.name_substitute(env_for(people["approver"]), people["clerk"].id, TODAY, TODAY + DAY)
    with pytest.raises(InvalidInput, match="overlaps"):  # the approver's own, not the admin's
        away.name_substitute(admin, stand_in.id, TODAY + DAY, TODAY + 2 * DAY, for_user_id=approver)
    away.name_substitute(admin, stand_in.id, TODAY + 2 * DAY, TODAY + 3 * DAY, for_user_id=approver)
    # The admin's own days are not the approver's: no overlap with the admin's own substitute.
    away.name_substitute(admin, stand_in.id, TODAY, TODAY + 3 * DAY)
    assert db_session.query(Substitution).count() == 3

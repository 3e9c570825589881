"""Naming, ending and listing substitutes while away (代理)."""

from datetime import timedelta

import pytest

from workflows import away, inbox, tasks
from workflows.errors import InvalidInput, NotAllowed, NotFound
from workflows.models import Substitution

DAY = timedelta(days=1)


@pytest.fixture
def approver(people, env_for):
    return env_for(people["approver"])


def test_named_substitute_sees_the_tasks_and_decides_on_behalf(
    db_session, started, people, make_user, approver, env_for
):
    deputy = make_user(name="deputy")
    away.name_substitute(approver, deputy.id, approver.today, approver.today + DAY)
    scope = inbox.scope_of(db_session, deputy, approver.today)
    [task] = inbox.inbox_page(db_session, scope)
    tasks.complete(env_for(deputy), task.id, {"decision": "approve"})
    assert task.completed_by_id == deputy.id
    assert task.on_behalf_of_id == people["approver"].id


@pytest.mark.parametrize(
    ("start", "end"),
    [(-1, 3), (2, 1), (0, away.MAX_DAYS)],
    ids=["starts-in-the-past", "ends-before-it-starts", "too-long"],
)
def test_name_substitute_refuses_bad_dates(db_session, make_user, approver, start, end):
    deputy = make_user()
    with pytest.raises(InvalidInput):
        away.name_substitute(approver, deputy.id, approver.today + start * DAY,
                             approver.today + end * DAY)  # fmt: skip
    assert db_session.query(Substitution).count() == 0


def test_name_substitute_refuses_oneself_unknown_and_inactive(
    db_session, people, make_user, approver
):
    sleeper = make_user()
    sleeper.active = False
    with pytest.raises(InvalidInput):
        away.name_substitute(approver, people["approver"].id, approver.today, approver.today)
    for user_id in (sleeper.id, 999_999):
        with pytest.raises(NotFound):
            away.name_substitute(approver, user_id, approver.today, approver.today)
    assert db_session.query(Substitution).count() == 0


def test_name_substitute_refuses_an_overlap(make_user, approver):
    first, second = make_user(), make_user()
    away.name_substitute(approver, first.id, approver.today + 2 * DAY, approver.today + 5 * DAY)
    with pytest.raises(InvalidInput):
        away.name_substitute(
            approver, second.id, approver.today + 5 * DAY, approver.today + 9 * DAY
        )
    later = away.name_substitute(
        approver, second.id, approver.today + 6 * DAY, approver.today + 9 * DAY
    )
    assert [s.id for s in away.substitutions_of(approver)][-1] == later.id


def test_end_substitution_cuts_a_running_one_and_drops_a_future_one(
    db_session, make_user, approver, env_for, people
):
    deputy = make_user()
    running = away.name_substitute(approver, deputy.id, approver.today, approver.today + 9 * DAY)
    future = away.name_substitute(
        approver, deputy.id, approver.today + 20 * DAY, approver.today + 30 * DAY
    )
    tomorrow = env_for(people["approver"], later=DAY)
    away.end_substitution(tomorrow, running.id)
    assert running.ends_on == approver.today
    away.end_substitution(tomorrow, future.id)
    assert db_session.get(Substitution, future.id) is None
    assert away.substitutions_of(tomorrow) == []
    # From tomorrow the deputy no longer sees the approver's tasks.
    assert inbox.scope_of(db_session, deputy, tomorrow.today).assignees == (deputy.id,)


def test_end_substitution_only_by_its_owner(make_user, approver, env_for):
    deputy = make_user()
    row = away.name_substitute(approver, deputy.id, approver.today, approver.today + DAY)
    with pytest.raises(NotAllowed):
        away.end_substitution(env_for(deputy), row.id)
    with pytest.raises(NotFound):
        away.end_substitution(approver, 999_999)
    assert row.ends_on == approver.today + DAY

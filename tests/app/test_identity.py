"""Users, passwords and roles granted per department."""

from datetime import UTC

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.auth.accounts import check_password, create_user, grant_role, parse_role_spec
from app.extensions import db
from ledger.errors import Conflict, InvalidInput
from ledger.models.people import Department
from workflows.identity import Role, RoleGrant, User


@pytest.fixture
def approver(make_user, make_department):
    """Approver for CS, card office for every department; MATH exists without grants."""
    make_department("MATH")
    return make_user("li", roles=["dept_approver:CS", "card_office"])


@pytest.mark.parametrize(
    ("role", "department", "expected"),
    [
        (Role.DEPT_APPROVER, "CS", True),
        (Role.DEPT_APPROVER, "MATH", False),
        (Role.DEPT_APPROVER, None, True),
        (Role.CARD_OFFICE, "CS", True),  # a grant without a department covers them all
        (Role.CARD_OFFICE, "MATH", True),
        (Role.CARD_OFFICE, None, True),
        (Role.SETTLEMENT, None, False),
        (Role.SETTLEMENT, "CS", False),
        ("dept_approver", "CS", True),
    ],
)
def test_has_role_per_department(app, approver, role, department, expected):
    with app.app_context():
        ids = dict(db.session.execute(select(Department.code, Department.id)).all())
    assert approver.has_role(role, ids.get(department)) is expected


def test_has_role_refuses_an_unknown_role(approver):
    with pytest.raises(ValueError):
        approver.has_role("janitor")


def test_password_is_stored_hashed(app, make_user):
    user = make_user("wang", password="s3cret-pass")
    assert "s3cret-pass" not in user.password_hash
    with app.app_context():
        assert check_password(user, "s3cret-pass")
        assert not check_password(user, "s3cret-Pass")


def test_created_at_is_aware_utc(make_user):
    assert make_user().created_at.tzinfo == UTC


def test_repeat_grant_is_a_no_op(app, make_user):
    user = make_user("zhao", roles=["hr", "hr", "dept_approver:CS", "dept_approver:CS"])
    assert sorted(g.scope for g in user.grants) == ["dept_approver@CS", "hr"]
    with app.app_context():
        reloaded = db.session.get(User, user.id)
        grant_role(db.session, reloaded, Role.HR)
        db.session.flush()
        assert len(reloaded.grants) == 2


def test_database_keeps_one_all_department_grant_per_role(app, make_user):
    user = make_user(roles=["admin"])
    with app.app_context():
        db.session.add(RoleGrant(user_id=user.id, role=Role.ADMIN))
        with pytest.raises(IntegrityError):
            db.session.flush()
        db.session.rollback()


def test_username_is_unique(app, make_user):
    make_user("zhou")
    with app.app_context(), pytest.raises(Conflict) as caught:
        create_user(db.session, "zhou", "pw")
    assert "已存在" in caught.value.message("zh")


def test_unknown_department_code_is_refused(app):
    with app.app_context(), pytest.raises(InvalidInput) as caught:
        create_user(db.session, "sun", "pw", roles=[(Role.HR, "NOPE")])
    assert "NOPE" in caught.value.message("en")


@pytest.mark.parametrize(
    ("spec", "parsed"),
    [
        ("hr", (Role.HR, None)),
        ("dept_approver:CS", (Role.DEPT_APPROVER, "CS")),
        ("card_office:", (Role.CARD_OFFICE, None)),
    ],
)
def test_parse_role_spec(spec, parsed):
    assert parse_role_spec(spec) == parsed


def test_parse_role_spec_refuses_unknown_role():
    with pytest.raises(InvalidInput):
        parse_role_spec("janitor:CS")


def test_role_labels():
    assert Role.DEPT_APPROVER.label() == "部门审核人"
    assert Role.DEPT_APPROVER.label("en") == "Department approver"
    assert all(role.label("zh") and role.label("en") for role in Role)


def test_repr(make_user):
    user = make_user("qian", roles=["settlement"])
    assert repr(user) == f"<User {user.id} qian>"
    assert repr(user.grants[0]).endswith(" settlement>")

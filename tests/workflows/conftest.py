"""Engine fixtures: the test BPMN deployed, users with roles, and `env_for(user)`.

Every test here runs on SQLite and on PostgreSQL (through `db_session`).
"""

import itertools
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import NOW, TEST_CONFIG
from tests.workflows import support
from workflows import instances
from workflows.context import EngineConfig, Env
from workflows.deploy import deploy_directory
from workflows.identity import Role, RoleGrant, User

BPMN_DIR = Path(__file__).parent / "bpmn"
ENGINE_CONFIG = EngineConfig(ledger=TEST_CONFIG)
_seq = itertools.count(1)


@pytest.fixture(autouse=True)
def _no_failures():
    support.FAILURES["issue_card"] = 0
    yield
    support.FAILURES["issue_card"] = 0


@pytest.fixture
def deployed(db_session):
    """The test processes, deployed."""
    return deploy_directory(db_session, BPMN_DIR)


@pytest.fixture
def dept(make):
    return make.department()


@pytest.fixture
def make_user(db_session):
    """`make_user(*grants, name=None)`: a user with grants given as Role or (Role, dept)."""

    def make(*grants, name=None, email=None):
        n = next(_seq)
        user = User(
            username=name or f"user{n}", display_name=name or f"用户{n}", password_hash="-",
            email=email,
        )  # fmt: skip
        for grant in grants:
            role, department = grant if isinstance(grant, tuple) else (grant, None)
            user.grants.append(RoleGrant(role=Role(role), department_id=department))
        db_session.add(user)
        db_session.flush()
        return user

    return make


@pytest.fixture
def env_for(db_session):
    """`env_for(user, at=None, later=timedelta)`: an Env for `user` at NOW (or `at`)."""

    def env(user, at=None, later=timedelta(0), config=ENGINE_CONFIG):
        return Env(db_session, user, (at or NOW) + later, config)

    return env


@pytest.fixture
def people(make_user, dept):
    """An applicant and a department approver of `dept`, two card-office clerks, an admin."""
    return {
        "applicant": make_user((Role.APPLICANT, dept.id), name="applicant"),
        "approver": make_user((Role.DEPT_APPROVER, dept.id), name="approver"),
        "clerk": make_user(Role.CARD_OFFICE, name="clerk"),
        "clerk2": make_user(Role.CARD_OFFICE, name="clerk2"),
        "admin": make_user(Role.ADMIN, name="admin"),
    }


@pytest.fixture
def person(make, dept):
    """A person of `dept`, the subject of the requests `file_request` files."""
    return make.person(department=dept)


@pytest.fixture
def file_request(deployed, people, env_for, make, dept, person):
    """`file_request(key, subject=None)`: an approval request by the applicant for `subject`
    (default: `person`), waiting at dept_review."""

    def file(key="T-1", subject=None):
        data = {"person_id": (subject or person).id, "reason": "入职办卡"}
        return instances.start_instance(
            env_for(people["applicant"]), "approval", key, data, dept.id
        )

    return file


@pytest.fixture
def started(file_request):
    """One approval request, waiting at dept_review."""
    return file_request()


def with_clock(env: Env, later: timedelta) -> Env:
    """The same Env, later."""
    return replace(env, now=env.now + later)

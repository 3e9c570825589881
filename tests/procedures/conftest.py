"""The card office's processes, deployed from `bpmn/`, and a `desk` that files requests and
acts on their tasks as the people of each role would, through the `workflows` service layer.

SpiffWorkflow reads the wall clock for timers, so every step runs with the clock moved to the
desk's `now` (time-machine); `desk.later(days=30)` moves it on and fires due timers.
"""

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import select

from ledger.models.people import DepartmentKind
from tests.conftest import NOW
from tests.workflows.conftest import ENGINE_CONFIG
from workflows import instances, runtime, tasks, timers
from workflows.context import Env
from workflows.deploy import deploy_directory
from workflows.identity import Role, RoleGrant, User
from workflows.models import AuditEntry, HumanTask, Notification, ProcessInstance, TaskState

BPMN_DIR = Path(__file__).parents[2] / "bpmn"
_seq = itertools.count(1)
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def resident_id(n: int | None = None) -> str:
    """A valid 18-character resident ID number (check character computed), new each call."""
    body = f"11010519900307{(n if n is not None else next(_seq)) % 1000:03d}"
    total = sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True))
    return body + "10X98765432"[total % 11]


@dataclass
class Desk:
    """Files requests and acts on tasks at `now`; each call runs at that moment."""

    session: object
    now: datetime = NOW
    users: dict = field(default_factory=dict)

    def env(self, user: User | None) -> Env:
        return Env(self.session, user, self.now, ENGINE_CONFIG)

    def _at(self):
        return time_machine.travel(self.now, tick=False)

    def start(self, who: str, process_id: str, data: dict, department_id=None, key=None):
        """`who` (a key of `users`) files `process_id` with the start form's `data`."""
        key = key or f"{process_id}-{next(_seq)}"
        with self._at():
            return instances.start_instance(
                self.env(self.users[who]), process_id, key, data, department_id
            )

    def open_tasks(self, instance: ProcessInstance) -> list[HumanTask]:
        return runtime.open_tasks(self.session, instance.id)

    def waiting_at(self, instance: ProcessInstance) -> list[str]:
        """The names of the instance's open tasks, sorted."""
        return sorted(row.task_name for row in self.open_tasks(instance))

    def task(self, instance: ProcessInstance, name: str, nth: int = 0) -> HumanTask:
        rows = [row for row in self.open_tasks(instance) if row.task_name == name]
        assert rows, f"no open task {name!r}; waiting at {self.waiting_at(instance)}"
        return rows[nth]

    def act(self, who: str, instance: ProcessInstance, name: str, nth: int = 0, **data):
        """`who` completes the open task `name` (the nth, for multi-instance) with `data`."""
        row = self.task(instance, name, nth)
        with self._at():
            return tasks.complete(self.env(self.users[who]), row.id, data)

    def approve(self, who: str, instance, name: str, nth: int = 0, **data):
        return self.act(who, instance, name, nth, decision="approve", **data)

    def reject(self, who: str, instance, name: str, comment="不符合要求", nth: int = 0, **data):
        return self.act(who, instance, name, nth, decision="reject", comment=comment, **data)

    def send_back(self, who: str, instance, name: str, reason="请补充材料", to="submitter"):
        """`who` returns the open task `name` to the applicant (or an earlier task)."""
        row = self.task(instance, name)
        with self._at():
            return tasks.return_task(self.env(self.users[who]), row.id, reason, to)

    def resubmit(self, who: str, instance, data: dict):
        row = self.task(instance, "submitter")
        with self._at():
            return tasks.complete(self.env(self.users[who]), row.id, data)

    def withdraw(self, who: str, instance, reason: str = "不再需要"):
        with self._at():
            return instances.withdraw(self.env(self.users[who]), instance.id, reason)

    def later(self, **delta) -> int:
        """Move the clock on by `delta` and fire every timer due then; returns how many
        instances fired."""
        self.now += timedelta(**delta)
        with self._at():
            due = timers.due_instance_ids(self.session, self.now)
            return sum(timers.fire_instance(self.env(None), i) for i in due)

    def data(self, instance: ProcessInstance) -> dict:
        """The instance's workflow data (as the engine last saved it)."""
        with self._at():
            workflow = runtime.open_workflow(self.env(None), instance)
        return workflow.data | workflow.last_task.data if workflow.last_task else workflow.data

    def notes(self, who: str) -> list[Notification]:
        query = select(Notification).where(Notification.user_id == self.users[who].id)
        return list(self.session.scalars(query.order_by(Notification.id)))

    def audit(self, instance: ProcessInstance) -> list[str]:
        query = select(AuditEntry.action).where(AuditEntry.instance_id == instance.id)
        return list(self.session.scalars(query.order_by(AuditEntry.seq)))

    def closed(self, instance: ProcessInstance, name: str) -> list[HumanTask]:
        query = select(HumanTask).where(
            HumanTask.instance_id == instance.id,
            HumanTask.task_name == name,
            HumanTask.state != TaskState.OPEN,
        )
        return list(self.session.scalars(query.order_by(HumanTask.id)))


@pytest.fixture
def office(db_session):
    """Every process and decision table of `bpmn/`, deployed."""
    return deploy_directory(db_session, BPMN_DIR)


@pytest.fixture
def home(make):
    """The applying department (a college)."""
    return make.department()


@pytest.fixture
def desk(db_session, office, make, home):
    """A desk with a user for each role: the applicant and approver of `home`, two clerks,
    the settlement centre, `home`'s supervising department, the IT centre, HR, the registrar.
    """

    def user(name: str, *grants) -> User:
        u = User(username=f"{name}{next(_seq)}", display_name=name, password_hash="-")
        for role, department in grants:
            u.grants.append(RoleGrant(role=role, department_id=department))
        db_session.add(u)
        return u

    hr_dept = make.department(kind=DepartmentKind.OFFICE)
    registrar_dept = make.department(kind=DepartmentKind.OFFICE)
    users = {
        "applicant": user("applicant", (Role.APPLICANT, home.id)),
        "approver": user("approver", (Role.DEPT_APPROVER, home.id)),
        "clerk": user("clerk", (Role.CARD_OFFICE, None)),
        "clerk2": user("clerk2", (Role.CARD_OFFICE, None)),
        "settlement": user("settlement", (Role.SETTLEMENT, None)),
        "supervisor": user("supervisor", (Role.SUPERVISING_DEPT, home.id)),
        "it": user("it", (Role.IT_CENTER, None)),
        "hr": user("hr", (Role.HR, hr_dept.id)),
        "registrar": user("registrar", (Role.REGISTRAR, registrar_dept.id)),
    }
    db_session.flush()
    found = Desk(db_session, users=users)
    found.hr_dept, found.registrar_dept = hr_dept, registrar_dept
    return found

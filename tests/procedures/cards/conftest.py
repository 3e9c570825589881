"""Card requests' fixtures and helpers, shared by 补办 (card_reissue) and 注销
(card_cancellation): this area's deployed files, a staff card, a delegate's part of a form, and
what a test asks of a request."""

import pytest
from sqlalchemy import func, select

from ledger.models.people import PersonCategory
from tests.procedures.conftest import BPMN_DIR, resident_id
from workflows import runtime, spiff
from workflows.deploy import deploy_sources
from workflows.models import ProcessInstance

FILES = ("card_reissue.bpmn", "card_cancellation.bpmn", "card_fee.dmn")
#: What a check shows of a card, only when the request passed it.
CARD_DETAILS = ("card_type", "state", "holder", "holder_id", "balance")


@pytest.fixture
def office(db_session):
    """This area's processes and the fee table: its tests do not wait on other areas' files
    (tests/procedures/test_diagrams.py deploys the whole of bpmn/)."""
    return deploy_sources(db_session, {name: (BPMN_DIR / name).read_bytes() for name in FILES})


@pytest.fixture
def staff(make, home):
    """A staff card of `home`'s, 50 yuan on it, its holder's ID number a valid one."""
    return make.card(PersonCategory.FACULTY, balance=5000, department=home, id_number=resident_id())


def delegate(evidence: str = "holder_id", **extra) -> dict:
    """A delegate's part of a form: 王五, with a valid ID number of their own."""
    return {"name": "王五", "id_number": resident_id(), "evidence": evidence, **extra}


def resident_id_ending_in_x() -> str:
    """A new valid resident ID number whose check character is X."""
    while not (number := resident_id()).endswith("X"):
        pass
    return number


def ended_at(desk, instance) -> list[str]:
    """The end events the instance reached."""
    with desk._at():
        workflow = runtime.open_workflow(desk.env(None), instance)
    done = workflow.get_tasks(state=spiff.TaskState.COMPLETED)
    return [t.task_spec.bpmn_id for t in done if type(t.task_spec).__name__ == "EndEvent"]


def told(desk, who: str, text: str) -> bool:
    """Whether `who` has a notification saying `text`."""
    return any(text in note.text_zh for note in desk.notes(who))


def started(db_session) -> int:
    """How many requests were filed."""
    return db_session.scalar(select(func.count()).select_from(ProcessInstance))


def at_path(errors: dict, path: tuple[str, ...]) -> list[str]:
    """The messages FormInvalid gives for a field (a nested field by its path)."""
    for key in path:
        errors = errors[key]
    return errors

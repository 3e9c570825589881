"""What the procedures' actions share: a check's verdict, finding a card, who decided a task,
and telling a department."""

from sqlalchemy import select

from ledger.models.cards import Card
from workflows import identity
from workflows.context import Env
from workflows.models import HumanTask, ProcessInstance, TaskState
from workflows.notify import notify

#: What a check found wrong: (中文, English) each.
Problems = list[tuple[str, str]]


def verdict(problems: Problems, **found) -> dict:
    """A check's result for the process to branch on: `ok`, the problems in both languages
    (shown to the applicant where the request ends), and what the check found."""
    return {"ok": not problems, "problems": [{"zh": zh, "en": en} for zh, en in problems]} | found


def find_card(env: Env, card_no: str | None) -> Card | None:
    """The card numbered `card_no`, or None."""
    if not card_no:
        return None
    return env.session.scalar(select(Card).where(Card.card_no == card_no))


def unknown_card(card_no: str) -> dict:
    """The verdict on a card number the card system does not know."""
    return verdict([(f"卡号 {card_no} 不存在", f"there is no card {card_no}")])


def decided_by(env: Env, instance_id: int, task_name: str) -> identity.User | None:
    """Who last completed the request's user task `task_name` (the person who acted, also
    when standing in for someone), or None."""
    query = (
        select(HumanTask.completed_by_id)
        .where(
            HumanTask.instance_id == instance_id,
            HumanTask.task_name == task_name,
            HumanTask.state == TaskState.COMPLETED,
        )
        .order_by(HumanTask.id.desc())
        .limit(1)
    )
    user_id = env.session.scalar(query)
    return env.session.get(identity.User, user_id) if user_id is not None else None


def problems_text(problems: list[dict], lang: str) -> str:
    """A verdict's problems as one line in `lang` ('zh' or 'en')."""
    return ("；" if lang == "zh" else "; ").join(problem[lang] for problem in problems)


def department_people(env: Env, instance: ProcessInstance) -> list[int]:
    """Who speaks for the request's department: its applicant, and every user filing
    requests for that department."""
    role, department = identity.Role.APPLICANT, instance.department_id
    staff = identity.user_ids_with_role(env.session, role, department)
    return sorted({instance.started_by_id, *staff})


def tell_department(
    env: Env, instance_id: int, kind: str, text_zh: str, text_en: str, link: str | None = None
) -> list[int]:
    """Notify the request's department (see `department_people`); returns who was told."""
    instance = env.session.get(ProcessInstance, instance_id)
    people = department_people(env, instance)
    notify(env, people, instance, kind, text_zh, text_en, link)
    return people


def checked(env: Env, instance_id: int, found: dict) -> dict:
    """A check's `verdict`, returned; when it failed, the department is told why first."""
    if found["ok"]:
        return found
    instance = env.session.get(ProcessInstance, instance_id)
    tell_department(
        env, instance_id, "invalid",
        f"申请 {instance.business_key} 无效：{problems_text(found['problems'], 'zh')}",
        f"Request {instance.business_key} is invalid: {problems_text(found['problems'], 'en')}",
    )  # fmt: skip
    return found

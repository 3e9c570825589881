"""Temporary cards (R04, R20-R22): screening an application's people, issuing each person's
card at the counter, a person's approval lapsing, extensions, and the reminder thirty days
before a temporary card expires."""

from datetime import date
from urllib.parse import urlencode

from sqlalchemy import select

from ledger.models.cards import LIVE_STATES, STATE_ZH, TYPE_ZH, Card, CardState, CardType
from ledger.models.people import IdType, Person, PersonCategory
from ledger.ops import cards as card_ops
from workflows import audit, identity
from workflows.context import Env
from workflows.models import ProcessInstance
from workflows.notify import notify
from workflows.procedures.common import (
    Problems,
    checked,
    decided_by,
    find_card,
    tell_department,
    unknown_card,
    verdict,
)
from workflows.registry import action

REMIND_DAYS = 30


def _person(env: Env, entry: dict) -> Person | None:
    return env.session.scalar(
        select(Person).where(
            Person.id_type == IdType(entry["id_type"]), Person.id_number == entry["id_number"]
        )
    )


@action("temporary.screen_people", inert=True)
def screen_people(env: Env, instance_id: int, department_id: int, people: list[dict]) -> dict:
    """R20, R01, R02: who of the listed people the card system knows as another department's
    (`foreign`: the request is refused and reported), as entitled to another card type, or
    as holding a card already (the request ends and the department is told why)."""
    problems, foreign = [], []
    for entry in people:
        known, name = _person(env, entry), entry["name"]
        if known is None:
            continue
        if known.department_id != department_id:
            foreign.append(name)
            problems.append((f"{name} 不是本单位人员", f"{name} is not the department's"))
        elif known.category != PersonCategory.OTHER:
            card_type = card_ops.CARD_TYPE_FOR[known.category]
            problems.append(
                (
                    f"{name} 应办理{TYPE_ZH[card_type]}，不能申请临时卡（R01）",
                    f"{name} is issued a {card_type.value} card, not a temporary one (R01)",
                )
            )
        elif card_ops.live_card(env.ledger_ctx(), known.id) is not None:
            problems.append((f"{name} 已持有校园卡，请申请延期", f"{name} holds a card already"))
    found = verdict(problems, foreign=foreign)
    return found if foreign else checked(env, instance_id, found)


@action("temporary.report_fraud", inert=True)
def report_fraud(env: Env, instance_id: int, foreign: list[str]) -> dict:
    """R20: tell the card office and the IT centre who certified people who are not the
    department's own; the case is on the request's audit trail."""
    instance = env.session.get(ProcessInstance, instance_id)
    by = decided_by(env, instance_id, "dept_certify")
    names, who = "、".join(foreign), by.display_name if by else "?"
    audit.record(env, instance, "report", details={"foreign": foreign, "certified_by": who})
    roles = (identity.Role.CARD_OFFICE, identity.Role.IT_CENTER)
    people = [u for role in roles for u in identity.user_ids_with_role(env.session, role, None)]
    notify(
        env, people + [instance.started_by_id], instance, "fraud",
        f"申请 {instance.business_key} 为非本单位人员（{names}）申请临时卡，已拒绝；核实人：{who}",
        f"Request {instance.business_key} listed people not of the department ({names}); "
        f"refused. Certified by {who}",
    )  # fmt: skip
    return {"reported": foreign, "certified_by": who}


def _register(env: Env, entry: dict, department_id: int) -> Person:
    """The person as the card system knows them, added as a temporary hire if new."""
    person = _person(env, entry)
    if person is None:
        person = Person(
            name=entry["name"],
            id_type=IdType(entry["id_type"]),
            id_number=entry["id_number"],
            category=PersonCategory.OTHER,
            department_id=department_id,
        )
        env.session.add(person)
    person.phone = entry.get("phone") or person.phone
    env.session.flush()
    return person


@action("temporary.issue_card")
def issue_card(
    env: Env,
    instance_id: int,
    person: dict,
    department_id: int,
    fee: int,
    card_no: str | None = None,
) -> dict:
    """R21, R04: the person came with valid ID and paid: issue the card, valid for the working
    period and never more than a year. Someone whose working period is over gets none (the
    department is told, the fee is handed back)."""
    if date.fromisoformat(person["work_until"]) < env.today:
        return _period_over(env, instance_id, person)
    holder = _register(env, person, department_id)
    issued = card_ops.issue_card(
        env.ledger_ctx(),
        holder.id,
        card_no=card_no or None,
        valid_until=date.fromisoformat(person["work_until"]),
        applying_department_id=department_id,
        fee=fee,
    )
    return {"name": person["name"], "state": "issued"} | issued


def _period_over(env: Env, instance_id: int, person: dict) -> dict:
    name, until = person["name"], person["work_until"]
    tell_department(
        env, instance_id, "period_over",
        f"{name} 的在校工作期已于 {until} 结束，未发放临时卡，工本费已退还",
        f"{name}'s working period ended on {until}: no card was issued, the fee was returned",
    )  # fmt: skip
    return {"name": name, "state": "period_over"}


@action("temporary.lapse", inert=True)
def lapse(env: Env, instance_id: int, person: dict) -> dict:
    """R21: the person did not come within thirty days; the department is told."""
    name = person["name"]
    tell_department(
        env, instance_id, "lapsed",
        f"{name} 未在 30 日内到卡务中心（中油大厦A座105室）办理临时卡，本次审批对其失效",
        f"{name} did not come for the temporary card within 30 days; the approval lapsed",
    )  # fmt: skip
    return {"name": name, "state": "lapsed"}


@action("temporary.check_card", inert=True)
def check_card(
    env: Env, instance_id: int, card_no: str, department_id: int, new_expiry: str
) -> dict:
    """R22: the card to extend is a live temporary card of the department's, and the new
    expiry is later than its current one; if not, the department is told why."""
    card = find_card(env, card_no)
    if card is None:
        return checked(env, instance_id, unknown_card(card_no))
    found = verdict(_extension_problems(card, department_id, date.fromisoformat(new_expiry)))
    if found["ok"]:  # what the approvers see; nothing of another department's cards
        found |= {"holder": card.person.name, "expires_on": card.expires_on.isoformat()}
    return checked(env, instance_id, found)


def _extension_problems(card: Card, department_id: int, new_expiry: date) -> Problems:
    if card.person.department_id != department_id:
        return [("该卡持卡人不是本单位人员", "the holder is not the department's")]
    if card.card_type != CardType.TEMPORARY:
        return [("只有临时卡可以延期", "only temporary cards are extended")]
    if card.state == CardState.EXPIRED:
        return [
            (
                "该卡已过期：延期须在到期前申请，请重新申请临时卡（R22）",
                "the card has expired: extensions are filed before expiry; apply anew (R22)",
            )
        ]
    if card.state not in LIVE_STATES:
        state = STATE_ZH[card.state]
        return [(f"该卡状态为“{state}”，不能延期", f"the card is {card.state.value}")]
    if new_expiry <= card.expires_on:
        return [
            (
                f"新有效期须晚于当前有效期 {card.expires_on}",
                f"the new expiry must be after the current one, {card.expires_on}",
            )
        ]
    return []


@action("temporary.extend_card")
def extend_card(env: Env, card_no: str, new_expiry: str) -> dict:
    """R22, R04: extend the card; the ledger keeps the expiry within a year of today."""
    return card_ops.extend_card(env.ledger_ctx(), card_no, date.fromisoformat(new_expiry))


def extension_link(card: Card, today: date) -> str:
    """The extension request's start form, pre-filled for `card`."""
    prefill = {"card_no": card.card_no, "new_expiry": card_ops.one_year_after(today).isoformat()}
    return f"/start/temporary_card_extension?{urlencode(prefill)}"


def remind_expiring_cards(env: Env) -> list[str]:
    """R22: thirty days before a temporary card expires, tell its department's applicants and
    offer them the extension request pre-filled; once per card and expiry. Returns the
    numbers of the cards reminded of."""
    ctx = env.ledger_ctx()
    reminded = []
    for card in card_ops.cards_to_remind(ctx, REMIND_DAYS):
        role, department = identity.Role.APPLICANT, card.person.department_id
        people = identity.user_ids_with_role(env.session, role, department)
        notify(
            env, people, None, "expiring",
            f"{card.person.name} 的临时卡（{card.card_no}）将于 {card.expires_on} 到期，如需继续"
            "使用请提交延期申请",
            f"{card.person.name}'s temporary card {card.card_no} expires on {card.expires_on}; "
            "file an extension if they stay",
            link=extension_link(card, env.today),
        )  # fmt: skip
        card_ops.record_expiry_reminder(ctx, card)
        reminded.append(card.card_no)
    return reminded

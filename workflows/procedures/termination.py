"""Forced termination (R14, R19): checking a roster against the card ledger, filing one from
an uploaded file, and the process's actions: the check, the IT centre's exclusions, ending the
cards with the refund route of each reason, and paying the graduates' bank refund batch.

Who may list which reason depends on the filer's roles, so the same check runs on an upload
(`file_roster`, reporting errors by row number before anything is filed) and as the first
step of the process (a request filed any other way is checked all the same).
"""

import hashlib
from collections import Counter
from dataclasses import dataclass, replace

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from forms.common import bilingual
from forms.roster import read_roster
from forms.termination import REASON_LABELS, TerminationEntry
from ledger.errors import DomainError
from ledger.models.cards import FINAL_STATES, LIVE_STATES, STATE_ZH, Card, CardState, CardType
from ledger.models.money import RefundRoute
from ledger.models.people import Department
from ledger.ops import closing
from workflows import instances, runtime, spiff
from workflows.context import Env
from workflows.errors import FormInvalid, NotAllowed, NotFound
from workflows.identity import Role, User
from workflows.models import ProcessInstance
from workflows.notify import notify
from workflows.procedures.common import checked, decided_by, tell_department, verdict
from workflows.registry import action

PROCESS_ID = "forced_termination"
R = closing.TerminationReason
#: Who lists which reason (R19): HR the staff who leave, academic affairs and the graduate
#: school graduates and withdrawals, the card office one breach, disappearance or death.
REASONS_BY_ROLE = {
    Role.HR: {R.LEFT},
    Role.REGISTRAR: {R.GRADUATED, R.WITHDRAWN},
    Role.CARD_OFFICE: {R.BREACH, R.MISSING, R.DECEASED},
}
#: (decided) Graduation and withdrawal end student cards, leaving ends staff and employee
#: cards; a breach, a disappearance or a death ends any card.
CARD_TYPES = {
    R.GRADUATED: {CardType.STUDENT},
    R.WITHDRAWN: {CardType.STUDENT},
    R.LEFT: {CardType.STAFF, CardType.EMPLOYEE},
}
TERMINABLE = (*LIVE_STATES, CardState.EXPIRED)
SHOWN_PROBLEMS = 50  # a verdict lists this many; a roster's file errors list them all
SHOWN_ROWS = 20  # the rows with errors that RosterInvalid's message names
COUNTER, COUNTER_EN = "中油大厦A座105室", "Room 105, Block A, Zhongyou Building"
_CHUNK = 500


@dataclass(frozen=True)
class Problem:
    """What is wrong with the entry at `index` (None: with the request), in `field`."""

    index: int | None
    field: str
    zh: str
    en: str


class RosterInvalid(FormInvalid):
    """An uploaded roster has errors; `errors` maps row number to {field: messages}."""

    code = "roster_invalid"
    zh = "名单文件“{form}”有误，未提交任何内容：第 {rows_zh} 行{more_zh}"
    en = "The roster file '{form}' has errors; nothing was filed: rows {rows_en}{more_en}"

    def __init__(self, filename: str, errors: dict[int, dict]):
        self.errors = errors
        rows = [str(number) for number in sorted(errors)]
        more = len(rows) > SHOWN_ROWS
        DomainError.__init__(
            self,
            form=filename,
            rows_zh="、".join(rows[:SHOWN_ROWS]),
            rows_en=", ".join(rows[:SHOWN_ROWS]),
            more_zh=f"等，共 {len(rows)} 行" if more else "",
            more_en=f" ({len(rows)} in all)" if more else "",
        )


def allowed_reasons(user: User, department_id: int | None) -> set[str]:
    """The reasons `user` may list when filing for `department_id`."""
    return {
        reason.value
        for role, reasons in REASONS_BY_ROLE.items()
        if user.acts_for(role, department_id)
        for reason in reasons
    }


def current_cards(session: Session, numbers: list[str]) -> dict[str, Card]:
    """{listed number: the card now in use}: a card voided by a reissue is followed to the
    card that replaced it (R15, same account). Unknown numbers are left out."""
    found, unique = {}, sorted(set(numbers))
    for start in range(0, len(unique), _CHUNK):
        query = (
            select(Card)
            .where(Card.card_no.in_(unique[start : start + _CHUNK]))
            .options(joinedload(Card.person))
        )
        for card in session.scalars(query):
            found[card.card_no] = _successor(session, card)
    return found


def _successor(session: Session, card: Card) -> Card:
    while card.state == CardState.REPLACED:
        newer = session.scalar(select(Card).where(Card.replaces_id == card.id))
        if newer is None:
            break
        card = newer
    return card


def roster_problems(
    session: Session,
    filer: User,
    department_id: int | None,
    entries: list[dict],
    evidence: dict | None = None,
    row_numbers: list[int] | None = None,
) -> list[Problem]:
    """R19: every problem of the entries (loaded by the form) against the ledger: the filer
    may list the reason, the card exists and has not ended, the name (and ID number, if
    given) is the holder's, the card type fits the reason, nobody is listed twice; and the
    confirming department of the evidence exists. `row_numbers` name the entries in messages
    by the roster's rows (otherwise as entries 1, 2 ...)."""
    allowed = allowed_reasons(filer, department_id)
    cards = current_cards(session, [entry["card_no"] for entry in entries])
    if row_numbers is None:
        names = [(f"第 {i} 条", f"entry {i}") for i in range(1, len(entries) + 1)]
    else:
        names = [(f"第 {n} 行", f"row {n}") for n in row_numbers]
    problems, seen = [], {}
    for index, entry in enumerate(entries):
        card = cards.get(entry["card_no"])
        found = _entry_problems(entry, card, allowed)
        if card is not None and not found and card.person_id in seen:
            zh, en = names[seen[card.person_id]]
            found.append(("card_no", f"与{zh}为同一持卡人，重复", f"same holder as {en}"))
        if card is not None:
            seen.setdefault(card.person_id, index)
        problems += [Problem(index, field, zh, en) for field, zh, en in found]
    return problems + _evidence_problems(session, evidence)


def _entry_problems(entry: dict, card: Card | None, allowed: set[str]) -> list[tuple]:
    reason = R(entry["reason"])
    reason_zh, reason_en = REASON_LABELS[reason]
    found = []
    if reason.value not in allowed:
        found.append(("reason", f"您无权申报“{reason_zh}”", f"you may not list '{reason_en}'"))
    if card is None:
        return found + [("card_no", "卡号不存在", "no such card")]
    if card.state not in TERMINABLE:
        state_zh = STATE_ZH[card.state]
        found.append(("card_no", f"该卡状态为“{state_zh}”", f"the card is {card.state.value}"))
    if card.card_type not in CARD_TYPES.get(reason, set(CardType)):
        found.append(("reason", f"“{reason_zh}”不适用于此类卡", f"not for a {card.card_type} card"))
    if _plain(card.person.name) != _plain(entry["name"]):
        found.append(("name", "姓名与持卡人不符", "the name is not the holder's"))
    if entry.get("id_number") and entry["id_number"] != card.person.id_number.upper():
        found.append(("id_number", "证件号码与持卡人不符", "the ID number is not the holder's"))
    return found


def _plain(name: str) -> str:
    return " ".join(name.split()).casefold()


def _evidence_problems(session: Session, evidence: dict | None) -> list[Problem]:
    code = (evidence or {}).get("confirming_department")
    if code is None or session.scalar(select(Department.id).where(Department.code == code)):
        return []
    zh, en = f"确认单位 {code} 不存在", f"no department {code}"
    return [Problem(None, "evidence", zh, en)]


def file_roster(
    env: Env, filename: str, content: bytes, department_id: int | None, note: str = ""
) -> ProcessInstance:
    """R19: file an uploaded roster (CSV or XLSX) as a forced termination request for
    `department_id`, the filer's own. Every row is checked first, against the form and the
    ledger; any error raises RosterInvalid listing them by row number, and nothing is filed."""
    if not allowed_reasons(env.user, department_id):
        raise NotAllowed(
            reason_zh="您没有申报强制终止名单的角色",
            reason_en="your roles do not include filing termination rosters",
        )
    rows = read_roster(filename, content)
    schema, errors, entries, numbers = TerminationEntry(), {}, [], []
    for row in rows:
        try:
            entries.append(schema.dump(schema.load(row.values)))
            numbers.append(row.number)
        except ValidationError as exc:
            errors[row.number] = exc.normalized_messages()
    for problem in roster_problems(env.session, env.user, department_id, entries, None, numbers):
        fields = errors.setdefault(numbers[problem.index], {})
        fields.setdefault(problem.field, []).append(bilingual(problem.zh, problem.en))
    if errors:
        raise RosterInvalid(filename, errors)
    digest = hashlib.sha256(content).hexdigest()[:8]
    key = f"QZZZ-{env.now.astimezone(env.config.ledger.zone):%Y%m%d%H%M}-{digest}"
    title = f"强制终止名单：{filename}（{len(entries)} 人）"
    data = {"entries": entries, "note": note}
    return instances.start_instance(env, PROCESS_ID, key, data, department_id, title)


def _described(problems: list[Problem], entries: list[dict]) -> list[tuple[str, str]]:
    """The problems as the applicant reads them, the first SHOWN_PROBLEMS of them."""
    described = []
    for problem in problems[:SHOWN_PROBLEMS]:
        if problem.index is None:
            described.append((problem.zh, problem.en))
            continue
        n, card_no = problem.index + 1, entries[problem.index]["card_no"]
        described.append(
            (f"第 {n} 条（卡号 {card_no}）：{problem.zh}", f"entry {n} ({card_no}): {problem.en}")
        )
    if len(problems) > SHOWN_PROBLEMS:
        rest = len(problems) - SHOWN_PROBLEMS
        described.append((f"另有 {rest} 处问题", f"and {rest} more problems"))
    return described


@action("termination.check_request", inert=True)
def check_request(
    env: Env,
    instance_id: int,
    starter_id: int,
    department_id: int | None,
    entries: list[dict],
    evidence: dict | None = None,
) -> dict:
    """R19: the request's roster checked against the ledger for its filer (see
    `roster_problems`); if it fails, the filer's department is told why."""
    filer = env.session.get(User, starter_id)
    problems = roster_problems(env.session, filer, department_id, entries, evidence)
    reasons = Counter(entry["reason"] for entry in entries)
    found = verdict(_described(problems, entries), count=len(entries), reasons=dict(reasons))
    return checked(env, instance_id, found)


@action("termination.check_exclusions", inert=True)
def check_exclusions(env: Env, instance_id: int, entries: list[dict], excluded: list) -> dict:
    """The IT centre's exclusions are card numbers of the roster, and spare not everyone (a
    request ending nobody is rejected); if not, the reviewer is told and reviews again."""
    listed = {entry["card_no"] for entry in entries}
    unknown = sorted(set(excluded) - listed)
    problems = []
    if unknown:
        numbers = "、".join(unknown[:SHOWN_PROBLEMS])
        problems.append((f"不在名单中的卡号：{numbers}", f"not on the roster: {numbers}"))
    elif listed <= set(excluded):
        problems.append(("不能排除全部人员，请驳回申请", "everyone is excluded: reject instead"))
    found = verdict(problems, excluded=sorted(set(excluded) & listed))
    if problems and env.user is not None:
        instance = env.session.get(ProcessInstance, instance_id)
        notify(
            env, [env.user.id], instance, "invalid",
            f"排除名单有误，请重新审核 {instance.business_key}：{problems[0][0]}",
            f"The exclusions are wrong; review {instance.business_key} again: {problems[0][1]}",
        )  # fmt: skip
    return found


@action("termination.terminate_cards")
def terminate_cards(env: Env, instance_id: int, entries: list[dict], excluded: list) -> dict:
    """R19, R14: end every card of the roster but the excluded, each balance taking its
    reason's refund route. A card ended meanwhile by other means (cancelled at the counter,
    or by another termination) is skipped; one reissued meanwhile is ended as its new card.
    Graduates' refunds to a bank card on file make the batch for the settlement centre; the
    others are paid in cash at the counter (`closing.pay_refund`)."""
    ctx, spared = _ledger_ctx(env, instance_id, "it_review"), set(excluded)
    todo = [entry for entry in entries if entry["card_no"] not in spared]
    cards = current_cards(env.session, [entry["card_no"] for entry in todo])
    ended_count, skipped, without_bank_card = 0, [], []
    refunds = {route.value: [] for route in RefundRoute}
    for entry in todo:
        card = cards[entry["card_no"]]  # checked at the start; cards are never deleted
        if card.state in FINAL_STATES:
            skipped.append({"card_no": card.card_no, "state": card.state.value})
            continue
        ended = closing.terminate_card(ctx, card.card_no, entry["reason"])
        ended_count += 1
        if ended["refund_id"] is None:
            continue
        if ended["route"] == RefundRoute.BANK and not card.account.bank_card_no:
            without_bank_card.append(ended["refund_id"])
        else:
            refunds[ended["route"]].append((ended["refund_id"], ended["refund"]))
    result = {
        "terminated": ended_count,
        "skipped": skipped,
        "bank_refund_ids": [refund_id for refund_id, _amount in refunds["bank"]],
        "bank_refunds_without_card": without_bank_card,
        "refunds": {route: _tally(items) for route, items in refunds.items()},
    }
    _tell_terminated(env, instance_id, result)
    return result


def _ledger_ctx(env: Env, instance_id: int, task_name: str):
    """The ledger context of a step the worker carries out after the user task `task_name`:
    the ledger records as its actor who decided that task (R05: who changed the card)."""
    user = decided_by(env, instance_id, task_name) or env.user
    return replace(env, user=user).ledger_ctx()


def _tally(items: list[tuple[int, int]]) -> dict:
    return {"count": len(items), "amount": sum(amount for _id, amount in items)}


def _tell_terminated(env: Env, instance_id: int, result: dict) -> None:
    counts = {route: result["refunds"][route]["count"] for route in ("bank", "cash", "claimant")}
    bank, cash, claimant = counts["bank"], counts["cash"], counts["claimant"]
    held, skipped = len(result["bank_refunds_without_card"]), len(result["skipped"])
    tell_department(
        env, instance_id, "terminated",
        f"已强制终止 {result['terminated']} 张校园卡（{skipped} 张此前已终止或注销）：{bank} 笔余额"
        f"将退至银行卡；{cash} 笔（退学、离职）和 {held} 笔（毕业生未登记银行卡）请本人到"
        f"{COUNTER}领取现金；{claimant} 笔冻结待合法领取人领取",
        f"{result['terminated']} cards ended ({skipped} had ended already): {bank} refunds go to "
        f"bank cards; {cash} (withdrawals, leavers) and {held} (graduates with no bank card on "
        f"file) are paid in cash at the counter, {COUNTER_EN}; {claimant} are kept for a "
        f"lawful claimant",
    )  # fmt: skip


@action("termination.pay_bank_refunds")
def pay_bank_refunds(
    env: Env, instance_id: int, refund_ids: list[int], bank_batch_ref: str
) -> dict:
    """R14: the settlement centre confirmed the batch with the bank: the graduates' refunds of
    this termination are paid to their bank cards."""
    ctx = _ledger_ctx(env, instance_id, "bank_batch")
    paid = closing.pay_bank_refunds(ctx, refund_ids=refund_ids)
    tell_department(
        env, instance_id, "refunded",
        f"毕业生余额退款已转入银行卡（批次 {bank_batch_ref}）：{paid['count']} 笔",
        f"Graduates' balances were paid to their bank cards (batch {bank_batch_ref}): "
        f"{paid['count']} refunds",
    )  # fmt: skip
    return paid | {"bank_batch_ref": bank_batch_ref}


def bank_refund_ids(env: Env, instance_id: int) -> list[int]:
    """R14: the bank refund batch of the termination request `instance_id`, as its
    termination left it for the settlement centre: the refund ids, in id order. NotFound if
    the request is not a forced termination or has ended no cards yet."""
    instance = runtime.get_instance(env.session, instance_id)
    done = []
    if instance.process_id == PROCESS_ID:
        workflow = runtime.open_workflow(env, instance)
        done = workflow.get_tasks(spec_name="terminate", state=spiff.TaskState.COMPLETED)
    if not done:
        raise NotFound(
            what_zh="强制终止的银行退款批次", what_en="termination refund batch", key=instance_id
        )
    return sorted(done[0].data["termination"]["bank_refund_ids"])

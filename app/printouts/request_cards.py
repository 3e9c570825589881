"""The data of the card requests' printed forms, from where their processes keep it: the
start form, the decided steps, and the results the service steps left in the workflow
(`bpmn/temporary_card.bpmn`, `card_reissue.bpmn`, `forced_termination.bpmn`)."""

from app.printouts.request_facts import Filed, common_parts
from reports.request_cards import card_on_file

#: The steps of a temporary card's counter subprocess that leave a person's `outcome`: the
#: card issued, none issued (the counter refused), the approval lapsed after thirty days.
OUTCOME_STEPS = ("issue", "refused", "lapse")


def temporary_card(filed: Filed) -> dict:
    """临时卡申请表 (R20, R21): each person with the card the counter gave them, the
    department head's certification, the check of the people (a report of people not the
    department's names who certified them), the card office's review, the fee (R03)."""
    outcomes = {
        _identity(data["person"]): data["outcome"]
        for step in OUTCOME_STEPS
        for data in filed.results(step)
        if "outcome" in data and "person" in data
    }
    people = [person | _given(outcomes.get(_identity(person))) for person in filed.start["people"]]
    reported = filed.result("report", "report") or {}
    return common_parts(filed) | {
        "people": people, "reason": filed.start.get("reason", ""),
        "fee": filed.result("decide_fee", "fee"), "certification": filed.step("dept_certify"),
        "screening": filed.result("screen", "screening"),
        "reported_by": reported.get("certified_by", ""), "review": filed.step("office_review"),
    }  # fmt: skip


def _identity(person: dict) -> tuple[str, str]:
    return person.get("id_type", ""), person.get("id_number", "")


def _given(outcome: dict | None) -> dict:
    """What the counter did for one person: nothing yet, or the card it gave."""
    outcome = outcome or {}
    return {
        "outcome": outcome.get("state", ""), "card_no": outcome.get("card_no") or "",
        "expires_on": outcome.get("expires_on"),
    }  # fmt: skip


def card_reissue(filed: Filed) -> dict:
    """补办校园卡 (R03, R15, R16): the card and its holder, the delegate and their evidence,
    the fee and how it is paid, the counter's check, the new card once reissued."""
    start = filed.start
    delegate = start.get("delegate") if start.get("mode") == "delegated" else None
    checked = filed.result("check", "checked") or {}
    # A card the check refused (another department's, say) is not shown with its holder.
    holder = card_on_file(filed.env.session, start["card_no"]) if checked.get("ok") else None
    return common_parts(filed) | {
        "card_no": start["card_no"], "reason": start.get("reason"),
        "delegated": delegate is not None, "delegate": delegate, "holder": holder,
        "fee": filed.result("decide_fee", "fee"),
        "fee_from_balance": bool(start.get("fee_from_balance")),
        "counter": filed.step("counter"), "reissued": filed.result("reissue", "reissued"),
    }  # fmt: skip


def forced_termination(filed: Filed) -> dict:
    """强制终止名单 (R19): the roster (grouped by reason in the report), the cards the IT centre
    excluded, its review, and what ending the cards did, with the bank batch (R14)."""
    start = filed.start
    exclusions = filed.result("check_exclusions", "exclusions") or {}
    ended = filed.result("terminate", "termination")
    batch = filed.step("bank_batch") or {}
    result = (ended | {"bank_batch_ref": batch.get("bank_batch_ref", "")}) if ended else None
    return common_parts(filed) | {
        "entries": start["entries"], "excluded": exclusions.get("excluded", []),
        "evidence": start.get("evidence"), "note": start.get("note") or "",
        "review": filed.step("it_review"), "result": result,
    }  # fmt: skip

"""The data of the merchant forms (校园卡商户接入申请表, 校园卡商户撤销申请表) from where their
processes keep it (`bpmn/merchant_onboarding.bpmn`, `merchant_revocation.bpmn`): the
application, each approval, the ledger's record of a merchant already admitted, and what the
service steps did."""

from app.printouts.request_facts import Filed, common_parts
from forms.merchants import NEW
from reports.request_merchants import merchant_on_file


def merchant_onboarding(filed: Filed) -> dict:
    """商户接入 (R11, R23): what was applied for, the supervising department's approval, the
    settlement account confirmed, the access agreement, the card office's review, and the
    terminals registered or moved."""
    start = filed.start
    carried_out = filed.result("carry_out", "carried_out")
    if start["kind"] == NEW:
        merchant = _applied(filed, start["merchant"], carried_out)
    else:
        merchant = _on_file(filed, start["merchant_code"])
    return common_parts(filed) | {
        "kind": start["kind"], "merchant_code": start["merchant_code"], "merchant": merchant,
        "terminals": start.get("terminals") or [], "moves": start.get("moves") or [],
        "supervising_review": filed.step("supervising_review"),
        "account_review": filed.step("account_review"), "agreement": filed.step("agreement"),
        "office_review": filed.step("office_review"), "carried_out": carried_out,
    }  # fmt: skip


def _applied(filed: Filed, merchant: dict, carried_out: dict | None) -> dict:
    """A new merchant as applied for, its departments by name; the management fee is the
    ledger's rate for a commercial one (R11), as admitted once it is."""
    rate = filed.env.config.ledger.management_fee_bp if merchant.get("commercial") else 0
    return merchant | {
        "operator": filed.department_name(filed.instance.department_id),
        "supervising": filed.department_name(merchant.get("supervising_department_id")),
        "fee_rate": (carried_out or {}).get("fee_rate_bp", rate),
    }  # fmt: skip


def _on_file(filed: Filed, code: str) -> dict | None:
    """The merchant an application names, as the ledger has it, once the check found it to
    be the filing unit's own (a request does not learn of another unit's merchant)."""
    check = filed.result("check", "check") or {}
    return merchant_on_file(filed.env.session, code) if check.get("ok") else None


def merchant_revocation(filed: Filed) -> dict:
    """商户撤销 (R24): the merchant and its terminals, the balance when filed, the settlement
    to zero, the supervising department's approval, the IT centre's confirmation."""
    start = filed.start
    merchant = _on_file(filed, start["merchant_code"])
    check = filed.result("check", "check") or {}
    settlement = filed.result("settle", "settlement")
    return common_parts(filed) | {
        "merchant_code": start["merchant_code"], "reason": start.get("reason", ""),
        "merchant": merchant, "terminals": merchant["terminals"] if merchant else [],
        "balance": check.get("balance"), "settle_review": filed.step("settle_review"),
        "settled": settlement, "supervising_review": filed.step("supervising_review"),
        "it_confirm": filed.step("it_confirm"),
        "closed": filed.result("close", "closed") is not None,
    }  # fmt: skip

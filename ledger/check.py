"""The ledger check: rebuild every balance from the journal and report any difference."""

from sqlalchemy import func, select, union_all
from sqlalchemy.orm import Session

from ledger.models.accounts import AccountKind, LedgerAccount
from ledger.models.journal import Posting
from ledger.models.money import Hold, HoldState, Refund, RefundState


def rebuilt_balances(session: Session) -> dict[int, int]:
    """Each account's credits minus debits, from the postings alone."""
    legs = union_all(
        select(Posting.credit_id.label("account_id"), Posting.amount.label("amount")),
        select(Posting.debit_id.label("account_id"), (-Posting.amount).label("amount")),
    ).subquery()
    rows = session.execute(
        select(legs.c.account_id, func.sum(legs.c.amount)).group_by(legs.c.account_id)
    )
    return {account_id: int(total) for account_id, total in rows}


def check_ledger(session: Session) -> list[dict]:
    """Every difference found: stored balance against the journal, and the holds and refunds
    accounts against the pending holds and refunds they stand for. Empty means all is well."""
    rebuilt = rebuilt_balances(session)
    problems = []
    accounts = session.execute(select(LedgerAccount.id, LedgerAccount.kind, LedgerAccount.balance))
    stored = {}
    for account_id, kind, balance in accounts:
        stored[kind] = stored.get(kind, 0) + balance
        if balance != rebuilt.get(account_id, 0):
            problems.append(
                {
                    "account_id": account_id,
                    "kind": kind.value,
                    "stored": balance,
                    "rebuilt": rebuilt.get(account_id, 0),
                }
            )
    for kind, model, pending in (
        (AccountKind.HOLDS, Hold, Hold.state == HoldState.PENDING),
        (AccountKind.REFUNDS, Refund, Refund.state == RefundState.PENDING),
    ):
        open_total = session.scalar(select(func.coalesce(func.sum(model.amount), 0)).where(pending))
        if open_total != stored.get(kind, 0):
            problems.append(
                {
                    "account_id": None,
                    "kind": kind.value,
                    "stored": stored.get(kind, 0),
                    "rebuilt": int(open_total),
                }
            )
    return problems

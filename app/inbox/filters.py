"""The inbox's query: filter fields in the URL (and in saved filters) as the engine's
`InboxFilter`, the tabs of whose tasks (mine, group, all), and the keyset of the next page."""

from collections.abc import Mapping
from datetime import datetime

from flask import url_for
from flask_babel import lazy_gettext as _l

from app.paging import campus_span, parse_day
from workflows.context import Env
from workflows.inbox import InboxFilter

#: The URL's filter fields: process id, department id, created from / to (campus days),
#: overdue only, a search text (requester or business key), and whose tasks (WHOSE).
FILTER_FIELDS = ("process", "department", "from", "to", "overdue", "q", "whose")
PAGE_SIZE = 20
#: The inbox's tabs: `whose` in the URL, its label, and InboxFilter.assigned.
WHOSE = (
    ("mine", _l("我的任务"), True),  # assigned to me or to whom I stand in for
    ("group", _l("组任务"), False),  # my groups' tasks nobody has claimed
    ("", _l("全部"), None),
)


def filter_params(args: Mapping) -> dict[str, str]:
    """The filter fields given in `args` (a query or a form), blanks (and an unknown `whose`)
    left out."""
    found = {key: str(args.get(key, "")).strip() for key in FILTER_FIELDS}
    if found["whose"] not in {key for key, _label, _assigned in WHOSE}:
        found["whose"] = ""
    return {key: value for key, value in found.items() if value}


def inbox_filter(params: Mapping[str, str], env: Env) -> InboxFilter:
    """The engine's filter for `params`; a value that does not parse is left out. Dates are
    campus days: `to` includes the whole day."""
    department = params.get("department", "")
    start, end = campus_span(
        parse_day(params.get("from")), parse_day(params.get("to")), env.config.ledger.zone
    )
    return InboxFilter(
        process_id=params.get("process") or None,
        department_id=int(department) if department.isdigit() else None,
        created_from=start,
        created_until=end,
        overdue_at=env.now if params.get("overdue") else None,
        text=params.get("q") or None,
        assigned=next((a for key, _label, a in WHOSE if key == params.get("whose")), None),
    )


def whose_tabs(params: Mapping[str, str]) -> list[tuple[str, str, str, bool]]:
    """(value, label, URL, whether it is the current one) of each WHOSE tab; a tab keeps the
    other filter fields."""
    others = {key: value for key, value in params.items() if key != "whose"}
    current = params.get("whose", "")
    return [
        (key, str(label), url_for("inbox.index", **others, **({"whose": key} if key else {})),
         key == current)
        for key, label, _assigned in WHOSE
    ]  # fmt: skip


def keyset_of(row) -> str:
    """The `after` value that continues a page after `row`: its creation time and id."""
    return f"{row.created_at.isoformat()},{row.id}"


def parse_keyset(value: str | None) -> tuple[datetime, int] | None:
    """`keyset_of`'s value read back, or None (the first page) if it does not parse."""
    moment, _, key = (value or "").rpartition(",")
    try:
        at = datetime.fromisoformat(moment)
    except ValueError:
        return None
    return (at, int(key)) if key.isdigit() and at.tzinfo is not None else None

"""The inbox's query: filter fields in the URL (and in saved filters) as the engine's
`InboxFilter`, the keyset of the next page, and the choices the filter form offers."""

from collections.abc import Mapping
from datetime import datetime

from app.paging import campus_span, parse_day
from workflows.context import Env
from workflows.inbox import InboxFilter

#: The URL's filter fields: process id, department id, created from / to (campus days),
#: overdue only, and a search text (requester or business key).
FILTER_FIELDS = ("process", "department", "from", "to", "overdue", "q")
PAGE_SIZE = 20


def filter_params(args: Mapping) -> dict[str, str]:
    """The filter fields given in `args` (a query or a form), blanks left out."""
    found = {key: str(args.get(key, "")).strip() for key in FILTER_FIELDS}
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
    )


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

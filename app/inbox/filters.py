"""The inbox's query: filter fields in the URL (and in saved filters) as the engine's
`InboxFilter`, the keyset of the next page, and the choices the filter form offers."""

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.models.people import Department
from workflows.context import Env
from workflows.inbox import InboxFilter
from workflows.models import ProcessDefinition

#: The URL's filter fields: process id, department id, created from / to (campus days),
#: overdue only, and a search text (requester or business key).
FILTER_FIELDS = ("process", "department", "from", "to", "overdue", "q")
PAGE_SIZE = 20


def filter_params(args: Mapping) -> dict[str, str]:
    """The filter fields given in `args` (a query or a form), blanks left out."""
    found = {key: str(args.get(key, "")).strip() for key in FILTER_FIELDS}
    return {key: value for key, value in found.items() if value}


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _start_of(day: date | None, env: Env) -> datetime | None:
    zone = env.config.ledger.zone
    return datetime.combine(day, time(0), tzinfo=zone) if day else None


def inbox_filter(params: Mapping[str, str], env: Env) -> InboxFilter:
    """The engine's filter for `params`; a value that does not parse is left out. Dates are
    campus days: `to` includes the whole day."""
    department = params.get("department", "")
    until = _day(params.get("to"))
    return InboxFilter(
        process_id=params.get("process") or None,
        department_id=int(department) if department.isdigit() else None,
        created_from=_start_of(_day(params.get("from")), env),
        created_until=_start_of(until + timedelta(days=1) if until else None, env),
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


def process_choices(session: Session) -> list[tuple[str, str]]:
    """(process id, name of its newest version) of every deployed process, by name."""
    query = select(ProcessDefinition.process_id, ProcessDefinition.name).order_by(
        ProcessDefinition.process_id, ProcessDefinition.version
    )
    newest = dict(session.execute(query).all())
    return sorted(newest.items(), key=lambda item: item[1])


def departments(session: Session) -> list[Department]:
    """Every department, by code (for the department filter and choice fields)."""
    return list(session.scalars(select(Department).order_by(Department.code)))

"""Lists a page at a time (which page the query asks for, what the pager shows), the campus
days of list filters and their text search."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, or_

PAGE_SIZE = 50


def page_number(args: Mapping) -> int:
    """The `page` query argument as a page number, 1 when it is missing or wrong."""
    value = str(args.get("page", "1"))
    return max(1, int(value)) if value.isdigit() else 1


@dataclass(frozen=True)
class Page:
    """Page `number` (from 1) of `total` rows, `size` rows a page."""

    number: int
    total: int
    size: int = PAGE_SIZE

    @property
    def offset(self) -> int:
        """Rows before this page."""
        return (self.number - 1) * self.size

    @property
    def pages(self) -> int:
        """How many pages there are (at least one)."""
        return max(1, -(-self.total // self.size))

    @property
    def has_previous(self) -> bool:
        """Whether a page comes before this one."""
        return self.number > 1

    @property
    def has_next(self) -> bool:
        """Whether a page comes after this one."""
        return self.number < self.pages


def parse_day(value: str | None) -> date | None:
    """A filter's day (YYYY-MM-DD), None if missing or wrong."""
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def campus_span(first: date | None, last: date | None, zone: ZoneInfo):
    """(start, end) moments of the campus days `first` to `last`; None for an open end."""
    start = datetime.combine(first, time(0), tzinfo=zone) if first else None
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone) if last else None
    return start, end


def containing(text: str, *columns) -> ColumnElement[bool]:
    """Rows one of whose `columns` contains `text`, case aside; a % or _ typed is itself, not
    a wildcard."""
    return or_(*(column.icontains(text, autoescape=True) for column in columns))

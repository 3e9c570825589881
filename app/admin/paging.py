"""Pages of a long list (which page the query asks for, what the pager shows) and the
query arguments of list filters."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from flask import request

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


def date_arg(name: str) -> date | None:
    """The query argument `name` as a date (YYYY-MM-DD), None if missing or wrong."""
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None

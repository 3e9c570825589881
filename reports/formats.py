"""How printed documents write amounts, dates and moments, and the marshmallow fields that
dump them so (templates get strings, already on the campus clock)."""

from datetime import UTC, date, datetime

from marshmallow import fields

from ledger.config import LedgerConfig

ZONE = LedgerConfig().zone


def yuan(fen: int | None) -> str:
    """Fen as yuan with thousands separators and two decimals: 123456 -> "1,234.56"."""
    if fen is None:
        return ""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100:,}.{abs(fen) % 100:02d}"


def zh_date(value: date | str | None) -> str:
    """A day as a form writes it by hand: 2026年11月28日 (from a date or an ISO string)."""
    if not value:
        return ""
    day = date.fromisoformat(value) if isinstance(value, str) else value
    return f"{day.year}年{day.month}月{day.day}日"


def campus_datetime(moment: datetime | None) -> str:
    """A moment (naive means UTC, as SQLite returns it) on the campus clock, to the minute."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZONE).strftime("%Y-%m-%d %H:%M")


class CampusDateTime(fields.Field):
    """Dumps a moment as campus time to the minute ("2026-11-28 09:30")."""

    def _serialize(self, value, attr, obj, **kwargs):
        return campus_datetime(value)


class ZhDate(fields.Field):
    """Dumps a day as 2026年11月28日."""

    def _serialize(self, value, attr, obj, **kwargs):
        return zh_date(value)


class Yuan(fields.Field):
    """Dumps fen as a yuan string ("1,234.56")."""

    def _serialize(self, value, attr, obj, **kwargs):
        return yuan(value)

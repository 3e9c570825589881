"""Enum columns stored as short strings with a named CHECK constraint."""

from enum import StrEnum

from sqlalchemy import Enum
from sqlalchemy.orm import mapped_column


def enum_column(enum_cls: type[StrEnum], **kwargs):
    """A non-native enum column storing each member's value, checked by the database."""
    kind = Enum(
        enum_cls,
        native_enum=False,
        create_constraint=True,
        length=max(len(m.value) for m in enum_cls),
        values_callable=lambda cls: [m.value for m in cls],
        name=None,  # the naming convention names its CHECK after the column
    )
    return mapped_column(kind, **kwargs)

"""A request's form data as the page shows it: each value under its field's label, in the UI
language, read against the form's marshmallow schema (nested groups and tables included).

Choice values get their labels, departments their names, ID numbers are masked as the user
may see them, and fields left empty are left out.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from flask_babel import gettext as _
from marshmallow import Schema, fields, validate

from app.i18n import current_language
from app.web import shown_id_number
from forms.choices import choice_label

#: The name of a department from its id (None if unknown).
DepartmentName = Callable[[int], str | None]


@dataclass
class Shown:
    """One field of the data: a value (`text`), a group (`children`) or a table."""

    label: str
    text: str = ""
    children: list["Shown"] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


def shown_data(schema: Schema, data: Mapping, department_name: DepartmentName) -> list[Shown]:
    """The fields of `schema` that `data` fills, in the schema's order."""
    result = []
    for key, obj in schema.fields.items():
        value = data.get(key)
        if _empty(value):
            continue
        item = Shown(label=_label(obj, key))
        if isinstance(obj, fields.Nested) and isinstance(value, Mapping):
            item.children = shown_data(obj.schema, value, department_name)
        elif isinstance(obj, fields.List) and isinstance(obj.inner, fields.Nested):
            inner = obj.inner.schema
            item.columns = [_label(o, k) for k, o in inner.fields.items()]
            item.rows = [_row(inner, row, department_name) for row in value]
        else:
            item.text = _text(key, obj, value, department_name)
        result.append(item)
    return result


def _row(schema: Schema, row, department_name: DepartmentName) -> list[str]:
    row = row if isinstance(row, Mapping) else {}
    return [
        "" if _empty(row.get(k)) else _text(k, o, row.get(k), department_name)
        for k, o in schema.fields.items()
    ]


def _empty(value) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _label(obj: fields.Field, key: str) -> str:
    meta = obj.metadata
    return meta.get(f"label_{current_language()}") or meta.get("label_zh") or key


def _text(key: str, obj: fields.Field, value, department_name: DepartmentName) -> str:
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if isinstance(value, list):
        return "、".join(_text(key, obj, v, department_name) for v in value)
    if key == "id_number":
        return shown_id_number(str(value))
    if key.endswith("department_id") and isinstance(value, int):
        return department_name(value) or str(value)
    if _has_choices(obj):
        return choice_label(value, current_language())
    return str(value)


def _has_choices(obj: fields.Field) -> bool:
    if isinstance(obj, fields.List):
        obj = obj.inner
    validators = obj.validators if isinstance(obj.validators, list) else [obj.validate]
    return any(isinstance(v, validate.OneOf) for v in validators)

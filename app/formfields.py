"""Forms rendered from their marshmallow schemas, and posted fields read back into the nested
data the schemas load.

An input's name is its path in the data, dotted: ``reason``, ``merchant.name``,
``people.0.id_number``. `describe` turns a schema, the values to show and the errors to show
into `Field`s that the `form_fields` macro draws; `parse` turns posted (or query) fields into
the nested dict; `flat_errors` turns marshmallow's nested messages into {input name: text}.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from marshmallow import Schema, fields, validate

from app.i18n import current_language, half
from forms.choices import choice_label

#: Extra rows of a table offered blank beside the filled ones.
BLANK_ROWS = 1
#: Choices a field's options come from when its schema cannot list them (departments ...).
ChoiceSource = Callable[[str], list[tuple[str, str]] | None]
_SKIP = {"csrf_token", "action", "draft_id"}


@dataclass
class Field:
    """One input (or group of inputs) as the template draws it."""

    name: str
    label: str
    widget: str
    required: bool = False
    help: str = ""
    value: object = ""
    error: str = ""
    choices: list[tuple[str, str]] = field(default_factory=list)
    children: list["Field"] = field(default_factory=list)
    rows: list[list["Field"]] = field(default_factory=list)


def _widget(obj: fields.Field) -> str:
    explicit = obj.metadata.get("widget")
    if isinstance(obj, fields.List):
        return "table" if isinstance(obj.inner, fields.Nested) else "lines"
    if isinstance(obj, fields.Nested):
        return "group"
    if explicit in ("select", "radio", "textarea", "checkbox", "date"):
        return explicit
    if isinstance(obj, fields.Boolean):
        return "checkbox"
    if isinstance(obj, fields.Date):
        return "date"
    if isinstance(obj, fields.Integer):
        return "number"
    return "text"


def _choices(key: str, obj: fields.Field, source: ChoiceSource | None) -> list:
    found = source(key) if source else None
    if found is not None:
        return found
    validators = obj.validators if isinstance(obj.validators, list) else [obj.validate]
    for validator in validators:
        if isinstance(validator, validate.OneOf):
            lang = current_language()
            return [(str(c), choice_label(c, lang)) for c in validator.choices]
    return []


def _label(obj: fields.Field, key: str) -> tuple[str, str]:
    lang = current_language()
    meta = obj.metadata
    label = meta.get(f"label_{lang}") or meta.get("label_zh") or key
    return label, meta.get(f"help_{lang}") or meta.get("help_zh") or ""


def describe(
    schema: Schema,
    values: Mapping | None = None,
    errors: Mapping[str, str] | None = None,
    source: ChoiceSource | None = None,
    prefix: str = "",
) -> list[Field]:
    """The fields of `schema` with `values` filled in and `errors` ({input name: text})."""
    values, errors = values or {}, errors or {}
    result = []
    for key, obj in schema.fields.items():
        if obj.dump_only:
            continue
        name = f"{prefix}{key}"
        label, help_text = _label(obj, key)
        item = Field(
            name=name, label=label, widget=_widget(obj), required=obj.required, help=help_text,
            value=values.get(key, ""), error=errors.get(name, ""),
        )  # fmt: skip
        _fill(item, obj, key, values.get(key), errors, source)
        result.append(item)
    return result


def _fill(item: Field, obj: fields.Field, key: str, value, errors, source) -> None:
    if item.widget == "group":
        nested = value if isinstance(value, Mapping) else {}
        item.children = describe(obj.schema, nested, errors, source, f"{item.name}.")
    elif item.widget == "table":
        rows = [row for row in (value or []) if isinstance(row, Mapping)]
        inner = obj.inner.schema
        item.children = describe(inner, {}, {}, source, f"{item.name}.__index__.")
        item.rows = [
            describe(inner, row, errors, source, f"{item.name}.{i}.")
            for i, row in enumerate([*rows, *([{}] * BLANK_ROWS)])
        ]
    elif item.widget == "lines":
        item.value = "\n".join(map(str, value)) if isinstance(value, list) else (value or "")
    elif item.widget in ("select", "radio"):
        item.choices = _choices(key, obj, source)
        if value in (None, "") and isinstance(obj.load_default, str):
            item.value = obj.load_default
    elif item.widget == "checkbox":
        item.value = value in (True, "true", "on", "y", "1", 1)


def _unflatten(form: Mapping) -> dict:
    data: dict = {}
    for name in form:
        if name in _SKIP or "__index__" in name:
            continue
        values = form.getlist(name) if hasattr(form, "getlist") else [form[name]]
        *path, key = name.split(".")
        target = data
        for part in path:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                break  # "a" and "a.b" both sent: no form of ours does that; keep "a"
        else:
            if not isinstance(target.get(key), dict):
                target[key] = values[-1]
    return data


def parse(schema: Schema, form: Mapping) -> dict:
    """The nested data `schema` loads, from posted (or query) fields; blanks are left out,
    so the schema's defaults apply and its required fields are reported."""
    return _convert(schema, _unflatten(form), present=True)


def _convert(schema: Schema, raw: Mapping, present: bool) -> dict:
    data = {}
    for key, obj in schema.fields.items():
        value = raw.get(key)
        if isinstance(obj, fields.Boolean):
            if present and (value is not None or obj.required):
                data[key] = value not in (None, "", "false", "0", "off")
            continue
        value = _value(obj, value)
        if value not in (None, "", [], {}):
            data[key] = value
    return data


def _value(obj: fields.Field, value):
    if isinstance(obj, fields.Nested) and isinstance(value, Mapping):
        return _convert(obj.schema, value, present=_filled(value)) if _filled(value) else None
    if isinstance(obj, fields.List) and isinstance(obj.inner, fields.Nested):
        rows = value.items() if isinstance(value, Mapping) else []
        ordered = [row for _, row in sorted(rows, key=lambda kv: _index(kv[0]))]
        ordered = [row for row in ordered if isinstance(row, Mapping)]
        inner = obj.inner.schema
        return [_convert(inner, row, True) for row in ordered if _filled(_typed(inner, row))]
    if isinstance(obj, fields.List):
        return [part for part in str(value or "").replace(",", "\n").split() if part]
    return value.strip() if isinstance(value, str) else value


def _index(key: str) -> int:
    return int(key) if key.isdigit() else 1 << 30


def _typed(schema: Schema, row: Mapping) -> dict:
    """The row without the values that only repeat a field's default (a blank row's select
    shows its default, which does not make the row filled)."""
    defaults = {key: obj.load_default for key, obj in schema.fields.items()}
    return {key: value for key, value in row.items() if value != defaults.get(key)}


def _filled(row) -> bool:
    if isinstance(row, Mapping):
        return any(_filled(v) for v in row.values())
    return row not in (None, "")


def flat_errors(messages, prefix: str = "") -> dict[str, str]:
    """marshmallow's nested messages as {input name: text in the user's language}; messages
    about the whole form are under "_schema"."""
    flat: dict[str, str] = {}
    if isinstance(messages, Mapping):
        for key, inner in messages.items():
            name = f"{prefix}{key}" if key != "_schema" or not prefix else prefix.rstrip(".")
            flat.update(flat_errors(inner, f"{name}."))
        return flat
    texts = messages if isinstance(messages, list) else [messages]
    name = prefix.rstrip(".") or "_schema"
    flat[name] = "；".join(half(t) for t in texts if not isinstance(t, dict | list))
    for nested in (t for t in texts if isinstance(t, dict | list)):
        flat.update(flat_errors(nested, prefix))
    return flat

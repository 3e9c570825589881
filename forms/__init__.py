"""marshmallow schemas for every start form and task form, with field metadata (labels in zh
and en, help, widget) that the web renders generically.

A BPMN start event or user task names its form in `spiffworkflow:properties` (`form`); the
name is looked up in `FORMS`. A module adds its schemas with `@register_form("name")`.
"""

from marshmallow import Schema

from ledger.errors import NotFound

FORMS: dict[str, type[Schema]] = {}


def register_form(name: str):
    """Class decorator: make the schema available to BPMN files as `name`."""

    def register(schema: type[Schema]) -> type[Schema]:
        if FORMS.get(name, schema) is not schema:
            raise ValueError(f"form {name!r} is registered twice")
        FORMS[name] = schema
        return schema

    return register


_INSTANCES: dict[str, Schema] = {}


def get_form(name: str) -> Schema:
    """The schema registered as `name` (one instance per name: loading keeps no state)."""
    _load_builtin_forms()
    if name not in _INSTANCES:
        try:
            _INSTANCES[name] = FORMS[name]()
        except KeyError:
            raise NotFound(what_zh="表单", what_en="form", key=name) from None
    return _INSTANCES[name]


def form_names() -> set[str]:
    """Every registered form's name."""
    _load_builtin_forms()
    return set(FORMS)


def _load_builtin_forms() -> None:
    from forms import cards, decision, merchants, temporary, termination  # noqa: F401

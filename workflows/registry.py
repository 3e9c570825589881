"""Service-task actions: a BPMN service task names one through
`spiffworkflow:serviceTaskOperator id="ledger.issue_card"`, and the engine calls the Python
function registered under that name, inside the request's transaction.

An action is `fn(env, **params) -> JSON-able result`; the result lands in the task data under
the operator's `resultVariable`. A DomainError or any other exception makes an incident.

An action registered `inert=True` only reads (a look-up, a check, a reminder): a withdrawal or
a return may pass over it, since running it again changes nothing.
"""

from collections.abc import Callable

Action = Callable[..., object]

ACTIONS: dict[str, Action] = {}
INERT: set[str] = set()


def action(name: str, *, inert: bool = False) -> Callable[[Action], Action]:
    """Decorator: register `fn` as the service action `name` (`inert`: it changes nothing)."""

    def register(fn: Action) -> Action:
        if ACTIONS.get(name, fn) is not fn:
            raise ValueError(f"service action {name!r} is registered twice")
        ACTIONS[name] = fn
        if inert:
            INERT.add(name)
        return fn

    return register


def is_inert(name: str) -> bool:
    """Whether the action `name` only reads."""
    _load_builtin_actions()
    return name in INERT


def get_action(name: str) -> Action | None:
    """The function registered as `name`, or None."""
    _load_builtin_actions()
    return ACTIONS.get(name)


def action_names() -> set[str]:
    """Every registered action's name."""
    _load_builtin_actions()
    return set(ACTIONS)


def _load_builtin_actions() -> None:
    from workflows import actions, procedures  # noqa: F401  (register their actions)

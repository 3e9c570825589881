"""Service-task actions: a BPMN service task names one through
`spiffworkflow:serviceTaskOperator id="ledger.issue_card"`, and the engine calls the Python
function registered under that name, inside the request's transaction.

An action is `fn(env, **params) -> JSON-able result`; the result lands in the task data under
the operator's `resultVariable`. A DomainError or any other exception makes an incident.
"""

from collections.abc import Callable

from workflows import identity
from workflows.context import Env

Action = Callable[..., object]

ACTIONS: dict[str, Action] = {}


def action(name: str) -> Callable[[Action], Action]:
    """Decorator: register `fn` as the service action `name`."""

    def register(fn: Action) -> Action:
        if ACTIONS.get(name, fn) is not fn:
            raise ValueError(f"service action {name!r} is registered twice")
        ACTIONS[name] = fn
        return fn

    return register


def get_action(name: str) -> Action | None:
    """The function registered as `name`, or None."""
    return ACTIONS.get(name)


@action("engine.users_with_role")
def users_with_role(env: Env, role: str, department_id: int | None = None) -> list[int]:
    """The ids of active users holding `role` for the department (or for every department):
    the candidates of an all-sign (会签) or any-sign (或签) step."""
    return identity.user_ids_with_role(env.session, role, department_id)

"""The engine's own service actions, usable from any BPMN file: finding the signers of an
all-sign or any-sign step, and reminding the holders of overdue tasks (escalation)."""

from workflows import identity
from workflows.context import Env
from workflows.models import ProcessInstance
from workflows.notify import notify
from workflows.registry import action
from workflows.runtime import current_holders


@action("engine.users_with_role", inert=True)
def users_with_role(env: Env, role: str, department_id: int | None = None) -> list[int]:
    """The ids of active users holding `role` for the department (or for every department):
    the candidates of an all-sign (会签) or any-sign (或签) step."""
    return identity.user_ids_with_role(env.session, role, department_id)


@action("engine.remind_overdue", inert=True)
def remind_overdue(env: Env, instance_id: int) -> dict:
    """Escalation from a due-date timer: tell everyone holding the request's open tasks that
    they are overdue. Returns who was told."""
    instance = env.session.get(ProcessInstance, instance_id)
    people = current_holders(env.session, instance_id)
    notify(
        env, people, instance, "overdue",
        f"已超期：请尽快处理申请 {instance.business_key}“{instance.title}”",
        f"Overdue: please act on request {instance.business_key} '{instance.title}'",
    )  # fmt: skip
    return {"reminded": people}

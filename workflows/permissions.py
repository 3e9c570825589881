"""Who may act on a task or see an instance. A substitute (代理) acts on behalf of the absent
user they stand in for; the decision is recorded as made on that user's behalf."""

from sqlalchemy import exists, or_, select

from workflows import identity
from workflows.context import Env
from workflows.errors import NotAllowed
from workflows.models import HumanTask, Notification, ProcessInstance, Role, User


def qualifies(user: User, row: HumanTask) -> bool:
    """Whether `user` may act on the task in their own right."""
    if row.assignee_id is not None:
        return row.assignee_id == user.id
    return row.candidate_role is not None and user.acts_for(
        row.candidate_role, row.candidate_department_id
    )


def acting_for(env: Env, row: HumanTask) -> int | None:
    """None if the acting user may act on the task themselves, else the id of the absent user
    they stand in for; NotAllowed if neither, or if that person filed the request and the
    task is an approval (in another lane than the one the request was filed from)."""
    if qualifies(env.user, row):
        behalf = None
    else:
        absent = identity.absent_users(env.session, env.user.id, env.today)
        behalf = next((user.id for user in absent if qualifies(user, row)), 0)
        if not behalf:
            raise NotAllowed(
                reason_zh=f"您不是任务“{row.title}”的处理人",
                reason_en=f"you cannot act on '{row.title}'",
            )
    if _own_request(row, (env.user.id, behalf)):
        raise NotAllowed(
            reason_zh="申请人不能审批自己的申请", reason_en="nobody approves their own request"
        )
    return behalf


def _own_request(row: HumanTask, people: tuple) -> bool:
    instance = row.instance
    own_lane = row.candidate_role is None or row.candidate_role in instance.definition.start_roles
    return not own_lane and instance.started_by_id in people


def require_admin(env: Env) -> None:
    """NotAllowed unless the acting user is an administrator."""
    if env.user is None or not env.user.has_role(Role.ADMIN):
        raise NotAllowed(reason_zh="仅系统管理员可以操作", reason_en="administrators only")


def require_starter(env: Env, instance: ProcessInstance) -> None:
    """NotAllowed unless the acting user filed the request."""
    if env.user is None or instance.started_by_id != env.user.id:
        raise NotAllowed(reason_zh="仅申请人可以操作", reason_en="only the applicant may do this")


def can_view(env: Env, instance: ProcessInstance) -> bool:
    """The applicant, administrators, anyone who has or had a task of it (or stands in for
    such a person) and anyone it was copied to."""
    user = env.user
    if user is None or instance.started_by_id == user.id or user.has_role(Role.ADMIN):
        return True
    people = [user] + identity.absent_users(env.session, user.id, env.today)
    rows = env.session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id))
    for row in rows:
        if any(qualifies(p, row) or row.completed_by_id == p.id for p in people):
            return True
    copied = exists().where(
        Notification.instance_id == instance.id,
        Notification.kind == "copy",
        or_(*(Notification.user_id == p.id for p in people)),
    )
    return bool(env.session.scalar(select(copied)))


def require_view(env: Env, instance: ProcessInstance) -> None:
    """NotAllowed unless `can_view`."""
    if not can_view(env, instance):
        raise NotAllowed(
            reason_zh=f"您无权查看申请 {instance.business_key}",
            reason_en=f"you may not see request {instance.business_key}",
        )

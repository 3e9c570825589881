"""The administrator's operations on accounts and substitutions, beside `app.auth.accounts`
(create, grant): revoke a role, activate or deactivate, reset a password, end anyone's
substitution. They only flush; the request's unit of work commits.

Each checks that an administrator acts. An administrator cannot lock themselves out: they
neither deactivate their own account nor revoke their own administrator role."""

from sqlalchemy.orm import Session

from app.auth.accounts import set_password
from ledger.errors import NotAllowed, NotFound
from workflows.away import end_substitution
from workflows.context import Env
from workflows.identity import Role, RoleGrant, Substitution, User
from workflows.permissions import require_admin


def get_user(session: Session, user_id: int) -> User:
    """The user, or NotFound."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(what_zh="用户", what_en="user", key=user_id)
    return user


def set_active(env: Env, user_id: int, active: bool) -> User:
    """Let the user log in again, or stop them (their grants stay for a later return)."""
    require_admin(env)
    user = get_user(env.session, user_id)
    if not active and user.id == env.user.id:
        raise NotAllowed(reason_zh="不能停用自己的账号", reason_en="you cannot deactivate yourself")
    user.active = active
    env.session.flush()
    return user


def revoke_role(env: Env, user_id: int, grant_id: int) -> RoleGrant:
    """Take one grant (a role for a department, or for all) away from the user."""
    require_admin(env)
    user = get_user(env.session, user_id)
    grant = next((g for g in user.grants if g.id == grant_id), None)
    if grant is None:
        raise NotFound(what_zh="角色授权", what_en="role grant", key=grant_id)
    if user.id == env.user.id and grant.role == Role.ADMIN:
        raise NotAllowed(
            reason_zh="不能撤销自己的系统管理员角色",
            reason_en="you cannot revoke your own administrator role",
        )
    user.grants.remove(grant)
    env.session.flush()
    return grant


def reset_password(env: Env, user_id: int, password: str) -> User:
    """Give the user a new password (hashed), for one who forgot theirs."""
    require_admin(env)
    user = get_user(env.session, user_id)
    set_password(user, password)
    env.session.flush()
    return user


def end_any_substitution(env: Env, substitution_id: int) -> Substitution:
    """End anyone's substitution (the engine lets administrators): removed if not begun,
    else it ends yesterday."""
    require_admin(env)
    return end_substitution(env, substitution_id)

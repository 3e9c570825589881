"""Operations on user accounts: create, grant a role, authenticate. They only flush; the
caller's unit of work commits."""

import hmac
from collections.abc import Iterable
from functools import cache

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import db
from ledger.errors import Conflict, InvalidInput
from ledger.models.people import Department
from workflows.identity import Role, RoleGrant, User

#: A role, with the code of the department it is granted for (None: every department).
RoleSpec = tuple[Role | str, str | None]


def parse_role_spec(spec: str) -> tuple[Role, str | None]:
    """'ROLE' or 'ROLE:DEPT_CODE' as (Role, department code or None)."""
    name, _, code = spec.partition(":")
    try:
        role = Role(name.strip())
    except ValueError:
        raise InvalidInput(
            reason_zh=f"未知角色 {name}（可选：{', '.join(Role)}）",
            reason_en=f"unknown role {name} (one of {', '.join(Role)})",
        ) from None
    return role, code.strip() or None


def find_user(session: Session, username: str) -> User | None:
    """The user called `username`, if any."""
    return session.scalar(select(User).where(User.username == username))


def create_user(
    session: Session,
    username: str,
    password: str,
    display_name: str | None = None,
    roles: Iterable[RoleSpec] = (),
) -> User:
    """Add a user with a hashed password and the given roles; refuse a taken username."""
    if find_user(session, username) is not None:
        raise Conflict(
            reason_zh=f"用户名 {username} 已存在", reason_en=f"username {username} is taken"
        )
    user = User(username=username, display_name=display_name or username)
    set_password(user, password)
    session.add(user)
    for role, department_code in roles:
        grant_role(session, user, role, department_code)
    session.flush()
    return user


def grant_role(
    session: Session, user: User, role: Role | str, department_code: str | None = None
) -> RoleGrant:
    """Grant `role` to `user` for one department (by code) or all; a repeat grant is a no-op."""
    role = Role(role)
    department = None
    if department_code:
        department = session.scalar(select(Department).where(Department.code == department_code))
        if department is None:
            raise InvalidInput(
                reason_zh=f"未知部门代码 {department_code}",
                reason_en=f"unknown department code {department_code}",
            )
    for grant in user.grants:
        if grant.role == role and grant.department is department:
            return grant
    grant = RoleGrant(role=role, department=department)
    user.grants.append(grant)
    return grant


def set_password(user: User, password: str) -> None:
    """Store a salted hash of `password` (the configured werkzeug method), never the password,
    and end the user's open sessions (a reset password locks out whoever held one)."""
    user.password_hash = generate_password_hash(
        password, method=current_app.config["PASSWORD_HASH_METHOD"]
    )
    user.end_sessions()


def check_password(user: User, password: str) -> bool:
    """Whether `password` matches the user's stored hash."""
    return check_password_hash(user.password_hash, password)


@cache
def _dummy_hash(method: str) -> str:
    return generate_password_hash("no user has this password", method=method)


def authenticate(username: str, password: str, session: Session | None = None) -> User | None:
    """The active user with this username and password, else None. An unknown username costs
    the same hash check as a wrong password, so timing does not tell which names exist."""
    session = session if session is not None else db.session
    user = find_user(session, username)
    if user is None:
        check_password_hash(_dummy_hash(current_app.config["PASSWORD_HASH_METHOD"]), password)
        return None
    if not check_password(user, password) or not user.active:
        return None
    return user


def load_user(session_id: str) -> User | None:
    """Flask-Login's user loader: the user of the session's "<id>:<session token>" if that is
    still the user's token (logging out and a new password change it) and the user is still
    active (a deactivated account's open sessions end with it)."""
    user_id, _, token = session_id.partition(":")
    try:
        user = db.session.get(User, int(user_id))
    except ValueError:
        return None
    if user is None or not user.active or not user.session_token:
        return None
    same = hmac.compare_digest(user.session_token.encode(), token.encode())  # str: ASCII only
    return user if same else None

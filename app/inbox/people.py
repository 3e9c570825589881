"""The people a task page offers: who may take a task over, and users named by username."""

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows import identity
from workflows.models import HumanTask, User


def active_users(session: Session, but: int | None = None) -> list[User]:
    """Every active user (but `but`), by username."""
    query = select(User).where(User.active).order_by(User.username)
    if but is not None:
        query = query.where(User.id != but)
    return list(session.scalars(query).unique())


def qualified_for(session: Session, row: HumanTask, but: int | None = None) -> list[User]:
    """The active users holding the task's role for its department (but `but`): whom it may
    be transferred to."""
    if row.candidate_role is None:
        return []
    ids = identity.user_ids_with_role(session, row.candidate_role, row.candidate_department_id)
    ids = [uid for uid in ids if uid != but]
    if not ids:
        return []
    query = select(User).where(User.id.in_(ids)).order_by(User.username)
    return list(session.scalars(query).unique())


def users_named(session: Session, text: str) -> tuple[list[int], list[str]]:
    """The ids of the active users whose usernames `text` lists (separated by spaces, commas
    or 、), and the names that match nobody."""
    names = [name for name in re.split(r"[\s,，、;；]+", text or "") if name]
    if not names:
        return [], []
    query = select(User.username, User.id).where(User.username.in_(names), User.active)
    found = dict(session.execute(query).all())
    return [found[n] for n in dict.fromkeys(names) if n in found], [
        n for n in names if n not in found
    ]


def one_user(session: Session, user_id: str | None, username: str | None) -> int | None:
    """The id of the user chosen in a form: by `username` if typed, else by the chosen id;
    None if neither names an active user."""
    if username and username.strip():
        ids, _unknown = users_named(session, username.strip())
        return ids[0] if len(ids) == 1 else None
    return int(user_id) if user_id and user_id.isdigit() else None


def names_of(session: Session, user_ids) -> dict[int, str]:
    """{id: display name} of these users, in one statement."""
    ids = sorted({uid for uid in user_ids if uid is not None})
    if not ids:
        return {}
    query = select(User.id, User.display_name).where(User.id.in_(ids))
    return dict(session.execute(query).all())

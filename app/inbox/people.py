"""The people a page offers to choose from, each list bounded (a campus has thousands of
users; typing a username reaches anyone else): who may take a task over, colleagues who may
stand in; and users named by username."""

import re

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from workflows.identity import RoleGrant
from workflows.models import HumanTask, User

#: How many people a list offers at most; anyone else is reached by typing a username.
LISTED = 50


def _holders(session: Session, grant_matches: list, but: int | None, limit: int) -> list:
    """(id, username, display_name) of the active users (but `but`) with a grant matching one
    of `grant_matches`, by username, at most `limit`."""
    if not grant_matches:
        return []
    query = (
        select(User.id, User.username, User.display_name)
        .join(RoleGrant, RoleGrant.user_id == User.id)
        .where(User.active, or_(*grant_matches))
        .distinct()
        .order_by(User.username)
        .limit(limit)
    )
    if but is not None:
        query = query.where(User.id != but)
    return list(session.execute(query))


def _for_department(department_id: int | None):
    """A grant for `department_id` or for every department (only the latter if None), as
    `identity.user_ids_with_role` reads grants."""
    every = RoleGrant.department_id.is_(None)
    return every if department_id is None else or_(every, RoleGrant.department_id == department_id)


def qualified_for(
    session: Session, row: HumanTask, but: int | None = None, limit: int = LISTED
) -> list:
    """The first `limit` active users (but `but`) holding the task's role for its department:
    whom it may be transferred to, signers and readers it suggests."""
    if row.candidate_role is None:
        return []
    match = and_(RoleGrant.role == row.candidate_role, _for_department(row.candidate_department_id))
    return _holders(session, [match], but, limit)


def colleagues(session: Session, user: User, limit: int = LISTED) -> list:
    """The first `limit` other active users holding one of `user`'s roles for the same
    department (a grant for every department shares the role with every department's)."""
    matches = [
        RoleGrant.role == grant.role
        if grant.department_id is None
        else and_(RoleGrant.role == grant.role, _for_department(grant.department_id))
        for grant in user.grants
    ]
    return _holders(session, matches, user.id, limit)


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

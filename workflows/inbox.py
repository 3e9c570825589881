"""The approver inbox, read only from the human-task table.

A page is the union of one small index range per scope (each assignee, each granted role and
department), each already in (created_at, id) order and cut at the page size, then merged:
the work done depends on the page size, not on how many tasks are open.
"""

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, func, literal, select, text, tuple_, union_all
from sqlalchemy.orm import Session

from workflows import identity
from workflows.models import HumanTask, TaskState, User


@dataclass(frozen=True)
class Scope:
    """What one person's inbox covers: tasks assigned to these users, and unassigned tasks of
    these (role, department) pairs (department None: every department)."""

    assignees: tuple[int, ...]
    groups: tuple[tuple[str, int | None], ...]


def scope_of(session: Session, user: User, today: date) -> Scope:
    """The user's own tasks and groups, plus those of everyone they stand in for today."""
    people = [user] + identity.absent_users(session, user.id, today)
    groups = {(g.role.value, g.department_id) for p in people for g in p.grants}
    everywhere = {role for role, department in groups if department is None}
    # A grant for every department covers the same role's per-department grants: no task is
    # reached twice.
    groups = {(r, d) for r, d in groups if d is None or r not in everywhere}
    return Scope(
        assignees=tuple(p.id for p in people),
        groups=tuple(sorted(groups, key=lambda g: (g[0], g[1] or 0))),
    )


def _ranges(scope: Scope, limit: int, after: tuple[datetime, int] | None):
    # Inline, not a bound parameter: a generic prepared plan could not prove the partial
    # indexes' predicate from `state = $1`.
    open_ = text(f"human_tasks.state = '{TaskState.OPEN.value}'")
    newest_first = (HumanTask.created_at.desc(), HumanTask.id.desc())
    keyset = tuple_(HumanTask.created_at, HumanTask.id) < after if after else literal(True)
    for assignee in scope.assignees:
        where = and_(open_, HumanTask.assignee_id == assignee, keyset)
        yield select(HumanTask.id, HumanTask.created_at).where(where).order_by(*newest_first)
    for role, department in scope.groups:
        where = and_(open_, HumanTask.assignee_id.is_(None), HumanTask.candidate_role == role)
        if department is not None:
            where = and_(where, HumanTask.candidate_department_id == department)
        yield (
            select(HumanTask.id, HumanTask.created_at).where(where, keyset).order_by(*newest_first)
        )


def inbox_page(
    session: Session, scope: Scope, limit: int = 20, after: tuple[datetime, int] | None = None
) -> list[HumanTask]:
    """One page of open tasks, newest first; `after` is the last row's (created_at, id)."""
    parts = [part.limit(limit).subquery().select() for part in _ranges(scope, limit, after)]
    if not parts:
        return []
    merged = union_all(*parts).subquery()
    ids = select(merged.c.id).order_by(merged.c.created_at.desc(), merged.c.id.desc())
    ids = [row for row in session.scalars(ids.limit(limit))]
    if not ids:
        return []
    rows = {row.id: row for row in session.scalars(select(HumanTask).where(HumanTask.id.in_(ids)))}
    return [rows[i] for i in ids]


def inbox_count(session: Session, scope: Scope) -> int:
    """How many open tasks the scope covers (for the menu)."""
    parts = [part.subquery().select() for part in _ranges(scope, 0, None)]
    if not parts:
        return 0
    merged = union_all(*parts).subquery()
    return session.scalar(select(func.count(func.distinct(merged.c.id))))

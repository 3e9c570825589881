"""The approver inbox, read from the human-task table (a page's rows bring along only their
request's department id, by primary key).

A page is the union of one small index range per scope (each assignee, each granted role and
department), each already in (created_at, id) order and cut at the page size, then merged:
the work done depends on the page size, not on how many tasks are open. A filter narrows each
range where it is read: a department leaves out whole ranges (or becomes part of an index
range), mine or group leaves out the group or the assignee ranges, the dates bound the ranges'
order column, the other conditions are checked on the rows the range walks.
"""

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, func, literal, or_, select, text, tuple_, union_all
from sqlalchemy.orm import Session, joinedload, lazyload, load_only

from workflows import identity
from workflows.models import HumanTask, ProcessInstance, TaskState, User


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


@dataclass(frozen=True)
class InboxFilter:
    """What an inbox page is narrowed to; None (or empty) leaves a condition out.

    `department_id` is the department a task is for (the applying department, unless the
    process names another, such as a merchant's supervising department); `created_from` is
    inclusive and `created_until` exclusive; `overdue_at` keeps tasks due before that moment;
    `text` is a substring of the requester's name or of the business key, in any case;
    `assigned` True keeps the tasks assigned to the user or to whom they stand in for (我的任务),
    False the unassigned tasks of their groups (组任务), None both. It leaves out whole ranges.
    """

    process_id: str | None = None
    department_id: int | None = None
    created_from: datetime | None = None
    created_until: datetime | None = None
    overdue_at: datetime | None = None
    text: str | None = None
    assigned: bool | None = None

    def skips(self, department: int | None) -> bool:
        """Whether a group range of `department` (None: every department) holds no match (none
        does when only assigned tasks are asked for)."""
        if self.assigned:
            return True
        return None not in (self.department_id, department) and department != self.department_id

    def conditions(self) -> list:
        """The filter's conditions on human_tasks rows."""
        found = []
        if self.department_id is not None:
            found.append(HumanTask.candidate_department_id == self.department_id)
        if self.process_id:
            found.append(HumanTask.process_id == self.process_id)
        if self.created_from is not None:
            found.append(HumanTask.created_at >= self.created_from)
        if self.created_until is not None:
            found.append(HumanTask.created_at < self.created_until)
        if self.overdue_at is not None:
            found.append(HumanTask.due_at < self.overdue_at)
        if self.text and self.text.strip():
            needle = self.text.strip()
            found.append(
                or_(
                    HumanTask.requester_name.icontains(needle, autoescape=True),
                    HumanTask.business_key.icontains(needle, autoescape=True),
                )
            )
        return found


NO_FILTER = InboxFilter()


def _ranges(scope: Scope, after: tuple[datetime, int] | None, where: InboxFilter = NO_FILTER):
    # Inline, not a bound parameter: a generic prepared plan could not prove the partial
    # indexes' predicate from `state = $1`.
    open_ = text(f"human_tasks.state = '{TaskState.OPEN.value}'")
    keyset = tuple_(HumanTask.created_at, HumanTask.id) < after if after else literal(True)
    narrowed = and_(keyset, *where.conditions())
    assignees = () if where.assigned is False else scope.assignees
    ranges = [HumanTask.assignee_id == assignee for assignee in assignees]
    for role, department in scope.groups:
        if where.skips(department):
            continue
        group = and_(HumanTask.assignee_id.is_(None), HumanTask.candidate_role == role)
        if department is not None:
            group = and_(group, HumanTask.candidate_department_id == department)
        ranges.append(group)
    for in_range in ranges:
        yield (
            select(HumanTask.id, HumanTask.created_at)
            .where(open_, in_range, narrowed)
            .order_by(HumanTask.created_at.desc(), HumanTask.id.desc())
        )


def inbox_page(
    session: Session,
    scope: Scope,
    limit: int = 20,
    after: tuple[datetime, int] | None = None,
    where: InboxFilter = NO_FILTER,
) -> list[HumanTask]:
    """One page of open tasks, newest first; `after` is the last row's (created_at, id);
    `where` narrows it. Each row's instance is loaded with its department id only."""
    parts = [part.limit(limit).subquery().select() for part in _ranges(scope, after, where)]
    if not parts:
        return []
    merged = union_all(*parts).subquery()
    ids = select(merged.c.id).order_by(merged.c.created_at.desc(), merged.c.id.desc())
    ids = [row for row in session.scalars(ids.limit(limit))]
    if not ids:
        return []
    # The instance's department comes along (the list names it in the reader's language).
    instance = joinedload(HumanTask.instance).options(
        load_only(ProcessInstance.department_id), lazyload(ProcessInstance.definition)
    )
    query = select(HumanTask).options(instance).where(HumanTask.id.in_(ids))
    rows = {row.id: row for row in session.scalars(query)}
    return [rows[i] for i in ids]


def inbox_count(
    session: Session, scope: Scope, where: InboxFilter = NO_FILTER, at_most: int | None = None
) -> int:
    """How many open tasks the scope covers (for the menu), or of them those `where` keeps;
    with `at_most`, counting stops there (each index range reads at most that many rows), so
    a large inbox costs no more than a page of that size."""
    parts = [part.limit(at_most).subquery().select() for part in _ranges(scope, None, where)]
    if not parts:
        return 0
    merged = union_all(*parts).subquery()
    counted = session.scalar(select(func.count(func.distinct(merged.c.id))))
    return counted if at_most is None else min(counted, at_most)

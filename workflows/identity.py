"""Who acts: users, the roles granted to them per department, and substitutes while away.

The engine's identity service (as Camunda's is part of its engine): BPMN lanes name roles,
and the inbox and every task action check them here. Passwords are hashed by `app.auth`."""

import secrets
from datetime import UTC, date, datetime
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

import ledger.models  # noqa: F401  (every ledger table on Base.metadata, for migrations)
from ledger.base import Base
from ledger.models.enums import enum_column
from ledger.models.people import Department, Person


def utcnow() -> datetime:
    """Now, aware, in UTC."""
    return datetime.now(UTC)


def new_session_token() -> str:
    """A fresh random token for a user's sessions (32 hex digits)."""
    return secrets.token_hex(16)


class Role(StrEnum):
    """What a user may do; BPMN lanes name these roles."""

    APPLICANT = "applicant"
    DEPT_APPROVER = "dept_approver"
    CARD_OFFICE = "card_office"
    SETTLEMENT = "settlement"
    SUPERVISING_DEPT = "supervising_dept"
    IT_CENTER = "it_center"
    HR = "hr"
    REGISTRAR = "registrar"
    ADMIN = "admin"

    def label(self, lang: str = "zh") -> str:
        """The role's name for the UI in `lang` ('zh...' or anything else for English)."""
        zh, en = ROLE_LABELS[self]
        return zh if lang.lower().startswith("zh") else en


ROLE_LABELS: dict[Role, tuple[str, str]] = {
    Role.APPLICANT: ("部门经办人", "Applicant"),
    Role.DEPT_APPROVER: ("部门审核人", "Department approver"),
    Role.CARD_OFFICE: ("卡务中心", "Card service centre"),
    Role.SETTLEMENT: ("结算中心", "Settlement centre"),
    Role.SUPERVISING_DEPT: ("主管部门", "Supervising department"),
    Role.IT_CENTER: ("信息技术中心", "IT centre"),
    Role.HR: ("人事处", "Human resources"),
    Role.REGISTRAR: ("教务处/研究生院", "Registrar"),
    Role.ADMIN: ("系统管理员", "Administrator"),
}


class User(Base):
    """A login. Implements what Flask-Login needs without UserMixin, whose __eq__ would make
    instances unhashable."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    #: Where notifications are mailed, if SMTP is configured.
    email: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Part of the id every session of the user carries: a new token ends them all (logout,
    #: a new password).
    session_token: Mapped[str] = mapped_column(String(32), default=new_session_token)

    person: Mapped[Person | None] = relationship()
    grants: Mapped[list["RoleGrant"]] = relationship(
        back_populates="user",
        cascade="all, delete-orphan",
        lazy="joined",  # every request loads its user with the grants: one statement
        order_by="RoleGrant.id",
    )

    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        """Flask-Login refuses to log in an inactive user."""
        return self.active

    def get_id(self) -> str:
        """The id Flask-Login keeps in the session: the user's id and session token, so that
        a session ends when the token changes."""
        return f"{self.id}:{self.session_token}"

    def end_sessions(self) -> None:
        """Give the user a new session token: every session opened before no longer loads."""
        self.session_token = new_session_token()

    def has_role(self, role: Role | str, department_id: int | None = None) -> bool:
        """Whether the user holds `role`.

        With `department_id`, the role must be granted for that department or for all
        departments (a grant without a department); without it, a grant anywhere counts.
        """
        role = Role(role)
        return any(
            grant.role == role
            and (department_id is None or grant.department_id in (None, department_id))
            for grant in self.grants
        )

    def acts_for(self, role: Role | str, department_id: int | None) -> bool:
        """Whether the user may act for `role` in exactly this scope: a grant for the
        department or for every department; with no department, only the latter. (The
        inbox and the candidates of a task read grants the same way.)"""
        role = Role(role)
        return any(
            grant.role == role and grant.department_id in (None, department_id)
            for grant in self.grants
        )

    def __repr__(self) -> str:
        return f"<User {self.id} {self.username}>"


class RoleGrant(Base):
    """`user` holds `role` for `department`, or for every department when it is NULL."""

    __tablename__ = "role_grants"
    __table_args__ = (
        UniqueConstraint("user_id", "role", "department_id", name="uq_role_grants_user_role_dept"),
        # NULLs are distinct in a UNIQUE constraint: a second index keeps one all-department
        # grant of a role per user.
        Index(
            "uq_role_grants_user_role_all_depts",
            "user_id",
            "role",
            unique=True,
            sqlite_where=text("department_id IS NULL"),
            postgresql_where=text("department_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = enum_column(Role)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(back_populates="grants")
    department: Mapped[Department | None] = relationship(lazy="joined")

    @property
    def scope(self) -> str:
        """'role@DEPT_CODE', or the bare role for a grant over every department."""
        return f"{self.role.value}@{self.department.code}" if self.department else self.role.value

    def __repr__(self) -> str:
        return f"<RoleGrant {self.id} {self.scope}>"


class Substitution(Base):
    """代理: while `user` is away (from `starts_on` to `ends_on`, Shanghai days), `substitute`
    sees and decides the user's tasks, on the user's behalf."""

    __tablename__ = "substitutions"
    __table_args__ = (
        CheckConstraint("starts_on <= ends_on", name="date_order"),
        CheckConstraint("user_id <> substitute_id", name="not_self"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    substitute_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    substitute: Mapped[User] = relationship(foreign_keys=[substitute_id])

    def __repr__(self) -> str:
        return (
            f"<Substitution {self.user_id}->{self.substitute_id} {self.starts_on}..{self.ends_on}>"
        )


def user_ids_with_role(session: Session, role: Role | str, department_id: int | None) -> list[int]:
    """Ids of the active users holding `role` for `department_id` or for every department."""
    department = RoleGrant.department_id.is_(None)
    if department_id is not None:
        department = or_(department, RoleGrant.department_id == department_id)
    query = (
        select(User.id)
        .join(RoleGrant)
        .where(User.active, RoleGrant.role == Role(role), department)
        .distinct()
        .order_by(User.id)
    )
    return list(session.scalars(query))


def absent_users(session: Session, substitute_id: int, today: date) -> list[User]:
    """The users for whom `substitute_id` stands in today."""
    query = (
        select(User)
        .join(Substitution, Substitution.user_id == User.id)
        .where(
            Substitution.substitute_id == substitute_id,
            Substitution.starts_on <= today,
            Substitution.ends_on >= today,
        )
        .order_by(User.id)
    )
    return list(session.scalars(query).unique())

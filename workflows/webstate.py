"""What people keep between visits: drafts of requests not yet filed, the start form pages
already filed (so that one page files once), saved inbox filters, the login attempts that
limit password guessing, and the files attached to requests. Operations only flush."""

import mimetypes
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
    delete,
    func,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from ledger.base import Base
from ledger.errors import DomainError
from workflows import audit, identity, permissions, runtime
from workflows.context import Env
from workflows.errors import InvalidInput, NotAllowed, NotFound
from workflows.identity import User, utcnow
from workflows.models import ENDED, ProcessInstance


class Draft(Base):
    """A start form saved before filing (草稿), only its author sees it."""

    __tablename__ = "drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    process_id: Mapped[str] = mapped_column(String(100))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<Draft {self.id} {self.process_id}>"


class Filing(Base):
    """A start form page that filed a request: the page's random token (a hidden field of
    the form), who filed which process from it, and the request. The same page sent again
    (a double click, a reload) finds it and files nothing."""

    __tablename__ = "filings"

    token: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    process_id: Mapped[str] = mapped_column(String(100))
    instance_id: Mapped[int] = mapped_column(
        ForeignKey("process_instances.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FiledAlready(DomainError):
    """The user filed this form page before: nothing more is filed."""

    status = 409
    code = "filed_already"
    zh = "该申请已提交（业务编号 {business_key}），未重复提交"
    en = "This request was submitted already (reference number {business_key}); not again"


class SavedFilter(Base):
    """An inbox filter a user saved under a name (process, department, dates, overdue, text)."""

    __tablename__ = "saved_filters"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_saved_filters_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(50))
    params: Mapped[dict] = mapped_column(JSON, default=dict)


class LoginAttempt(Base):
    """A failed login, by username and address: too many in a window refuse further tries."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_username", "username", "at"),
        Index("ix_login_attempts_address", "remote_addr", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100))
    remote_addr: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]


def save_draft(
    env: Env, process_id: str, data: dict, department_id: int | None, draft_id: int | None
) -> Draft:
    """Create or update the user's draft of a `process_id` request."""
    draft = get_draft(env, draft_id) if draft_id else Draft(user_id=env.user.id)
    draft.process_id, draft.department_id = process_id, department_id
    draft.data, draft.updated_at = dict(data), env.now
    env.session.add(draft)
    env.session.flush()
    return draft


def get_draft(env: Env, draft_id: int) -> Draft:
    """The user's own draft `draft_id`; NotFound for anyone else's."""
    draft = env.session.get(Draft, draft_id)
    if draft is None or draft.user_id != env.user.id:
        raise NotFound(what_zh="草稿", what_en="draft", key=str(draft_id))
    return draft


def drafts_of(env: Env) -> list[Draft]:
    """The user's drafts, newest first."""
    query = select(Draft).where(Draft.user_id == env.user.id)
    return list(env.session.scalars(query.order_by(Draft.updated_at.desc(), Draft.id.desc())))


def delete_draft(env: Env, draft_id: int) -> None:
    """Delete the user's draft (after filing it, or on request)."""
    env.session.delete(get_draft(env, draft_id))
    env.session.flush()


#: What a form page's token looks like (`new_filing_token`); anything else is no token.
_FILING_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,32}")


def new_filing_token() -> str:
    """A random token for a start form page about to be shown."""
    return secrets.token_urlsafe(16)


def filing_token(value: str | None) -> str | None:
    """The posted token if it looks like one `new_filing_token` makes, else None."""
    return value if value and _FILING_TOKEN.fullmatch(value) else None


def filed_from(env: Env, token: str | None, process_id: str) -> ProcessInstance | None:
    """The `process_id` request the user filed from the form page `token`, if any."""
    filing = env.session.get(Filing, token) if token else None
    if filing is None or (filing.user_id, filing.process_id) != (env.user.id, process_id):
        return None
    return env.session.get(ProcessInstance, filing.instance_id)


def note_filing(env: Env, token: str | None, instance: ProcessInstance) -> None:
    """Remember that the form page `token` filed `instance`. FiledAlready if the user filed
    the same process from it before; a token someone else used is not noted."""
    if token is None:
        return
    filing = env.session.get(Filing, token)
    if filing is None:
        env.session.add(Filing(
            token=token, user_id=env.user.id, process_id=instance.process_id,
            instance_id=instance.id, created_at=env.now,
        ))  # fmt: skip
        env.session.flush()
        return
    earlier = filed_from(env, token, instance.process_id)
    if earlier is not None:
        raise FiledAlready(business_key=earlier.business_key, instance_id=earlier.id)


def save_filter(env: Env, name: str, params: dict) -> SavedFilter:
    """Save (or replace) the user's inbox filter called `name`."""
    name = name.strip()[:50]
    query = select(SavedFilter).where(SavedFilter.user_id == env.user.id, SavedFilter.name == name)
    saved = env.session.scalar(query) or SavedFilter(user_id=env.user.id, name=name)
    saved.params = {k: v for k, v in params.items() if v not in (None, "")}
    env.session.add(saved)
    env.session.flush()
    return saved


def filters_of(env: Env) -> list[SavedFilter]:
    """The user's saved inbox filters by name."""
    query = select(SavedFilter).where(SavedFilter.user_id == env.user.id)
    return list(env.session.scalars(query.order_by(SavedFilter.name)))


def delete_filter(env: Env, filter_id: int) -> None:
    """Delete one of the user's saved filters; NotFound for anyone else's."""
    saved = env.session.get(SavedFilter, filter_id)
    if saved is None or saved.user_id != env.user.id:
        raise NotFound(what_zh="筛选条件", what_en="saved filter", key=str(filter_id))
    env.session.delete(saved)
    env.session.flush()


def record_failed_login(session: Session, username: str, address: str, at: datetime) -> None:
    """Note a failed login."""
    session.add(LoginAttempt(username=username[:100], remote_addr=address[:64], at=at))
    session.flush()


def login_blocked(
    session: Session, username: str, address: str, at: datetime, window: timedelta,
    per_user: int, per_address: int,
) -> bool:  # fmt: skip
    """Whether `username` has failed `per_user` times, or `address` `per_address` times,
    within `window` before `at`."""
    since = at - window
    count = select(func.count()).select_from(LoginAttempt).where(LoginAttempt.at > since)
    by_user = session.scalar(count.where(LoginAttempt.username == username[:100]))
    by_address = session.scalar(count.where(LoginAttempt.remote_addr == address[:64]))
    return by_user >= per_user or by_address >= per_address


def clear_failed_logins(session: Session, username: str) -> None:
    """Forget a user's failures once they log in."""
    session.execute(delete(LoginAttempt).where(LoginAttempt.username == username[:100]))


class Attachment(Base):
    """A file attached to a request (a scanned certificate, a roster): who added it, when."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), index=True)
    file_name: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<Attachment {self.id} {self.file_name}>"


#: The largest file a request takes (5 MB).
MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f"\\/:*?<>|]+')


def acting_people(env: Env) -> list[User]:
    """The user and the absent users they stand in for today."""
    return [env.user] + identity.absent_users(env.session, env.user.id, env.today)


def may_attach(env: Env, instance: ProcessInstance) -> bool:
    """The applicant and whoever holds one of its open tasks (or stands in for such a
    person), while the request has not ended."""
    if env.user is None or instance.status in ENDED:
        return False
    if instance.started_by_id == env.user.id:
        return True
    people = acting_people(env)
    rows = runtime.open_tasks(env.session, instance.id, suspended=True)
    return any(permissions.qualifies(person, row) for row in rows for person in people)


def attach_file(env: Env, instance: ProcessInstance, file_name: str, content: bytes) -> Attachment:
    """Keep `content` as a file of the request, noted on its audit trail."""
    if not may_attach(env, instance):
        raise NotAllowed(
            reason_zh="仅申请人和当前处理人可以上传附件",
            reason_en="only the applicant and the current handlers may attach files",
        )
    name = clean_file_name(file_name)
    if not name or not content:
        raise InvalidInput(reason_zh="请选择要上传的文件", reason_en="choose a file to upload")
    if len(content) > MAX_ATTACHMENT_BYTES:
        raise InvalidInput(reason_zh="附件不能超过 5 MB", reason_en="a file may not exceed 5 MB")
    attachment = Attachment(
        instance_id=instance.id, file_name=name, content_type=content_type_of(name),
        size=len(content), content=content, uploaded_by_id=env.user.id, uploaded_at=env.now,
    )  # fmt: skip
    env.session.add(attachment)
    runtime.flush(env, instance)
    audit.record(
        env, instance, "attach", comment=name,
        details={"attachment": attachment.id, "size": attachment.size},
    )  # fmt: skip
    runtime.flush(env, instance)
    return attachment


def clean_file_name(file_name: str | None) -> str:
    """The file's own name (no folders, no characters a download name cannot hold)."""
    base = re.split(r"[\\/]", file_name or "")[-1]
    return _UNSAFE_NAME.sub("_", base).strip(" .")[-200:]


def content_type_of(file_name: str) -> str:
    """The media type a file name suggests, else application/octet-stream."""
    return mimetypes.guess_type(file_name)[0] or "application/octet-stream"


@dataclass(frozen=True)
class ListedAttachment:
    """An attachment as a list shows it (without its content)."""

    id: int
    file_name: str
    size: int
    uploaded_by: str
    uploaded_at: datetime


def attachments_of(session: Session, instance_id: int) -> list[ListedAttachment]:
    """The request's files in the order they were added."""
    query = (
        select(Attachment.id, Attachment.file_name, Attachment.size, User.display_name,
               Attachment.uploaded_at)
        .join(User, User.id == Attachment.uploaded_by_id)
        .where(Attachment.instance_id == instance_id)
        .order_by(Attachment.uploaded_at, Attachment.id)
    )  # fmt: skip
    return [ListedAttachment(*row) for row in session.execute(query)]

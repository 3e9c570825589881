"""Files attached to a request: who may add one, adding it (on the audit trail), listing and
fetching them. Like the engine's operations these take an `Env` and only flush."""

import mimetypes
import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.instances.timeline import local_time
from workflows import audit, identity, permissions, runtime
from workflows.context import Env
from workflows.errors import InvalidInput, NotAllowed
from workflows.models import ENDED, ProcessInstance, User
from workflows.webstate import Attachment

#: The largest file a request takes (5 MB).
MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f"\\/:*?<>|]+')


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


def acting_people(env: Env) -> list[User]:
    """The user and the absent users they stand in for today."""
    return [env.user] + identity.absent_users(env.session, env.user.id, env.today)


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
class Listed:
    """An attachment as the page lists it (without its content)."""

    id: int
    file_name: str
    size: int
    uploaded_by: str
    uploaded_at: datetime

    @property
    def size_text(self) -> str:
        """The size as people read it."""
        return readable_size(self.size)


def attachments_of(session: Session, instance_id: int, zone: ZoneInfo) -> list[Listed]:
    """The request's files in the order they were added (times on the campus clock)."""
    query = (
        select(Attachment.id, Attachment.file_name, Attachment.size, User.display_name,
               Attachment.uploaded_at)
        .join(User, User.id == Attachment.uploaded_by_id)
        .where(Attachment.instance_id == instance_id)
        .order_by(Attachment.uploaded_at, Attachment.id)
    )  # fmt: skip
    return [
        Listed(key, name, size, by, local_time(at, zone))
        for key, name, size, by, at in session.execute(query)
    ]


def readable_size(size: int) -> str:
    """A byte count as people read it: 512 B, 12.3 KB, 4.5 MB."""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1024 / 1024:.1f} MB"

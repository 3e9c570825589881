"""Notifications: an in-app list per user, and e-mail when SMTP is configured.

Mail is queued on the session and sent only after the commit (and dropped on rollback), so
nobody is told of a decision that did not happen.
"""

import logging
import smtplib
from collections.abc import Iterable
from email.message import EmailMessage

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from workflows.context import Env, MailSettings
from workflows.models import Notification, ProcessInstance, User

OUTBOX = "workflows.outbox"
log = logging.getLogger(__name__)


def notify(
    env: Env,
    user_ids: Iterable[int],
    instance: ProcessInstance | None,
    kind: str,
    text_zh: str,
    text_en: str,
    link: str | None = None,
) -> list[Notification]:
    """Tell each user (once) in the app, and by mail if configured; `link`, a path below
    the site, is where to act (an instance's page if not given)."""
    ids = sorted({uid for uid in user_ids if uid is not None})
    rows = [
        Notification(
            user_id=uid,
            instance_id=instance.id if instance is not None else None,
            kind=kind,
            text_zh=text_zh[:500],
            text_en=text_en[:500],
            link=link,
            created_at=env.now,
        )
        for uid in ids
    ]
    env.session.add_all(rows)
    if env.config.mail.host and ids:
        _queue_mail(env, ids, instance, text_zh, text_en, link)
    return rows


def _queue_mail(env: Env, ids: list[int], instance, text_zh: str, text_en: str, link) -> None:
    query = select(User.email).where(User.id.in_(ids), User.email.is_not(None))
    if link is None and instance is not None:
        link = f"/instances/{instance.id}"
    link = f"{env.config.base_url}{link}" if link else ""
    for address in env.session.scalars(query):
        message = EmailMessage()
        message["From"] = env.config.mail.sender
        message["To"] = address
        # One line whatever the text holds: a line break in a header is refused (or injected).
        message["Subject"] = " ".join(f"[校园卡] {text_zh}".split())[:200]
        message.set_content(f"{text_zh}\n{text_en}\n\n{link}\n")
        env.session.info.setdefault(OUTBOX, []).append((env.config.mail, message))


def queued_mail(session: Session) -> int:
    """How many messages wait for the commit (a mark for `drop_mail_since`)."""
    return len(session.info.get(OUTBOX, []))


def drop_mail_since(session: Session, mark: int) -> None:
    """Forget the messages queued after `mark` (their savepoint was rolled back)."""
    del session.info.get(OUTBOX, [])[mark:]


def send(settings: MailSettings, message: EmailMessage) -> None:
    """Send one message over SMTP."""
    with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
        if settings.starttls:
            smtp.starttls()
        if settings.username:
            smtp.login(settings.username, settings.password or "")
        smtp.send_message(message)


@event.listens_for(Session, "after_commit")
def _send_after_commit(session: Session) -> None:
    for settings, message in session.info.pop(OUTBOX, []):
        try:
            send(settings, message)
        except (OSError, smtplib.SMTPException):
            # The decision is committed; a mail server being down must not undo it.
            log.exception("could not mail %s to %s", message["Subject"], message["To"])


@event.listens_for(Session, "after_rollback")
def _drop_after_rollback(session: Session) -> None:
    if session.in_nested_transaction():
        return  # only a savepoint (a failed service action): the transaction goes on
    session.info.pop(OUTBOX, None)


def unread(session: Session, user_id: int, limit: int = 50) -> list[Notification]:
    """The user's unread notifications, newest first."""
    query = (
        select(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def mark_read(env: Env, notification_ids: Iterable[int]) -> int:
    """Mark the acting user's notifications read; returns how many changed."""
    query = select(Notification).where(
        Notification.id.in_(list(notification_ids)),
        Notification.user_id == env.user.id,
        Notification.read_at.is_(None),
    )
    rows = list(env.session.scalars(query))
    for row in rows:
        row.read_at = env.now
    return len(rows)

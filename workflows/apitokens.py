"""Personal API tokens: a user makes one in the web UI and a script calls the JSON API with
it, acting with the user's own roles. Only the token's SHA-256 is stored; the plain text is
shown once, when it is made. Operations only flush."""

import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, String, func, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from ledger.base import Base
from ledger.errors import DomainError, InvalidInput, NotFound
from ledger.passwords import hash_secret
from workflows.identity import Role, User, utcnow

#: What every token starts with, so that a leaked one is recognised (by a secret scanner, say).
TOKEN_PREFIX = "cco_"
#: How many characters of a token lists show (the prefix and 8 more).
SHOWN_CHARACTERS = 12
NAME_MAX = 80
#: Live tokens (neither revoked nor expired) a user may hold at once.
MAX_LIVE_TOKENS = 20
#: The longest validity a token may be given, in days (None gives one that never expires).
MAX_DAYS = 3650
#: A token's last use is written at most this often: not one write per API call.
LAST_USED_PRECISION = timedelta(minutes=1)


class ApiToken(Base):
    """A personal API token: its owner, the owner's name for it and its SHA-256."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    #: SHA-256 (hex) of the plain token: a random 256-bit secret needs no salt or slow hash.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(SHOWN_CHARACTERS))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    #: None: the token does not expire.
    expires_at: Mapped[datetime | None]

    def is_live(self, now: datetime) -> bool:
        """Whether the token still works at `now`: not revoked, not expired."""
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)

    def __repr__(self) -> str:
        return f"<ApiToken {self.id} {self.prefix}… of user {self.user_id}>"


class InvalidTokenName(DomainError):
    """A token's name empty (once stripped) or longer than NAME_MAX."""

    status = 422
    code = "invalid_token_name"
    zh = "令牌名称须为 1 至 {max} 个字符"
    en = "A token's name must have 1 to {max} characters"


class TooManyTokens(DomainError):
    """The user holds MAX_LIVE_TOKENS live tokens already."""

    status = 409
    code = "too_many_tokens"
    zh = "每人最多持有 {limit} 个有效令牌，请先吊销不再使用的令牌"
    en = "At most {limit} live tokens per person; revoke one you no longer use first"


def hash_token(plain: str) -> str:
    """The SHA-256 (hex) of a plain token, as `token_hash` stores it."""
    return hash_secret(plain)


def _live(now: datetime):
    """The condition of a live token at `now`, for queries (as `ApiToken.is_live`)."""
    not_expired = or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now)
    return ApiToken.revoked_at.is_(None) & not_expired


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not 1 <= len(name) <= NAME_MAX:
        raise InvalidTokenName(max=NAME_MAX)
    return name


def issue_token(
    session: Session, user: User, name: str, now: datetime, days: int | None = 365
) -> tuple[ApiToken, str]:
    """A new token of `user` called `name`, valid `days` days from `now` (None: for ever),
    and its plain text: returned this once, never stored. InvalidTokenName for an empty or
    too long name, InvalidInput for days outside 1 to MAX_DAYS, TooManyTokens if the user
    holds MAX_LIVE_TOKENS live ones already."""
    name = _clean_name(name)
    if days is not None and not 1 <= days <= MAX_DAYS:
        raise InvalidInput(
            reason_zh=f"有效期须为 1 至 {MAX_DAYS} 天", reason_en=f"valid for 1 to {MAX_DAYS} days"
        )
    # The user's row locked first: two tokens made at once are counted one after the other,
    # so neither passes the limit on a count that misses the other (PostgreSQL's row lock;
    # SQLite's writer is one at a time anyway).
    session.execute(select(User.id).where(User.id == user.id).with_for_update())
    live = select(func.count()).select_from(ApiToken).where(ApiToken.user_id == user.id)
    if session.scalar(live.where(_live(now))) >= MAX_LIVE_TOKENS:
        raise TooManyTokens(limit=MAX_LIVE_TOKENS)
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id, name=name, token_hash=hash_token(plain),
        prefix=plain[:SHOWN_CHARACTERS], created_at=now,
        expires_at=now + timedelta(days=days) if days is not None else None,
    )  # fmt: skip
    session.add(token)
    session.flush()
    return token, plain


def revoke_token(session: Session, user: User, token_id: int, now: datetime) -> ApiToken:
    """Revoke the token `token_id` of `user` (an administrator: of anyone) at `now`; a token
    revoked before keeps its first revocation. NotFound for anyone else's token, so that
    nobody learns which ids exist."""
    token = session.get(ApiToken, token_id)
    if token is None or (token.user_id != user.id and not user.has_role(Role.ADMIN)):
        raise NotFound(what_zh="API 令牌", what_en="API token", key=str(token_id))
    if token.revoked_at is None:
        token.revoked_at = now
        session.flush()
    return token


def user_of_token(session: Session, plain: str, now: datetime) -> User | None:
    """The active user owning the live token `plain`, else None (unknown, revoked or expired
    token, deactivated user). Notes the token's last use, at most once a minute."""
    if not plain:
        return None
    digest = hash_token(plain)
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
    # The lookup is by hash (nothing secret leaks through its timing); comparing again in
    # constant time keeps a database collation or a truncation from passing a near miss.
    if token is None or not hmac.compare_digest(token.token_hash, digest):
        return None
    if not token.is_live(now):
        return None
    user = session.get(User, token.user_id)
    if user is None or not user.active:
        return None
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_PRECISION:
        token.last_used_at = now
        session.flush()
    return user


def tokens_of(session: Session, user: User) -> list[ApiToken]:
    """The user's tokens, revoked and expired ones included, newest first."""
    query = select(ApiToken).where(ApiToken.user_id == user.id)
    return list(session.scalars(query.order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))

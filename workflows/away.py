"""代理: a user names a substitute while away (or an administrator names one for a user who
cannot, say one who fell ill). During those days the substitute sees the user's tasks and
decides them on the user's behalf (see `permissions.acting_for`)."""

from datetime import date

from sqlalchemy import select

from workflows.context import Env
from workflows.errors import InvalidInput, NotAllowed, NotFound
from workflows.models import Role, Substitution, User
from workflows.permissions import require_admin

#: Decided: a substitution is named for at most half a year at a time.
MAX_DAYS = 183


def name_substitute(
    env: Env, substitute_id: int, starts_on: date, ends_on: date, for_user_id: int | None = None
) -> Substitution:
    """The acting user (or, named by an administrator, the user `for_user_id`, say one who
    fell ill) will be away from `starts_on` to `ends_on` (campus days, inclusive);
    `substitute_id` stands in. Refused: someone else's substitute named by a non-administrator,
    an unknown absent user, the absent user themselves, an unknown or inactive substitute,
    dates in the wrong order, in the past, longer than MAX_DAYS, or overlapping another
    substitution of the absent user."""
    absent = _absent_user(env, for_user_id)
    substitute = env.session.get(User, substitute_id)
    if substitute is None or not substitute.active:
        raise NotFound(what_zh="代理人", what_en="substitute", key=substitute_id)
    if substitute.id == absent.id:
        raise InvalidInput(
            reason_zh="不能指定本人为代理人", reason_en="no one can stand in for themselves"
        )
    if not (env.today <= starts_on <= ends_on) or (ends_on - starts_on).days >= MAX_DAYS:
        raise InvalidInput(
            reason_zh=f"代理期限须从今天或以后开始、结束不早于开始，且不超过 {MAX_DAYS} 天",
            reason_en=f"the dates must start today or later, end after they start, and span "
            f"at most {MAX_DAYS} days",
        )
    if _overlapping(env, absent.id, starts_on, ends_on):
        raise InvalidInput(
            reason_zh="与已有的代理期限重叠",
            reason_en="it overlaps another substitution of the same person",
        )
    row = Substitution(
        user_id=absent.id, substitute_id=substitute.id, starts_on=starts_on, ends_on=ends_on,
        created_at=env.now,
    )  # fmt: skip
    env.session.add(row)
    env.session.flush()
    return row


def _absent_user(env: Env, for_user_id: int | None) -> User:
    """Who will be away: the acting user, or another user if an administrator names them."""
    if for_user_id is None or for_user_id == env.user.id:
        return env.user
    require_admin(env)
    absent = env.session.get(User, for_user_id)
    if absent is None:
        raise NotFound(what_zh="用户", what_en="user", key=for_user_id)
    return absent


def _overlapping(env: Env, user_id: int, starts_on: date, ends_on: date) -> bool:
    query = select(Substitution.id).where(
        Substitution.user_id == user_id,
        Substitution.starts_on <= ends_on,
        Substitution.ends_on >= starts_on,
    )
    return env.session.scalar(query.limit(1)) is not None


def end_substitution(env: Env, substitution_id: int) -> Substitution:
    """The absent user is back: the substitution ends yesterday (or is removed if it has
    not begun). Only the user who named it, or an administrator, may end it."""
    row = env.session.get(Substitution, substitution_id)
    if row is None:
        raise NotFound(what_zh="代理", what_en="substitution", key=substitution_id)
    if row.user_id != env.user.id and not env.user.has_role(Role.ADMIN):
        raise NotAllowed(reason_zh="只能结束本人的代理", reason_en="not your substitution")
    if row.starts_on >= env.today:
        env.session.delete(row)
    else:
        row.ends_on = min(row.ends_on, date.fromordinal(env.today.toordinal() - 1))
    env.session.flush()
    return row


def substitutions_of(env: Env) -> list[Substitution]:
    """The acting user's substitutions that have not ended, soonest first."""
    query = (
        select(Substitution)
        .where(Substitution.user_id == env.user.id, Substitution.ends_on >= env.today)
        .order_by(Substitution.starts_on)
    )
    return list(env.session.scalars(query))

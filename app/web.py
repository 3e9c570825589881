"""What every page's controller shares: the engine context of the request, role checks, and
running one operation in the request's unit of work (and telling the user how it went)."""

from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from typing import Any

from flask import abort, flash, g
from flask_login import current_user, login_required

from app.engine import engine_config
from app.extensions import db
from app.i18n import current_language
from app.uow import unit_of_work
from ledger.errors import DomainError
from ledger.models.people import mask_id_number
from workflows.context import Env
from workflows.identity import Role
from workflows.inbox import Scope, scope_of


def now() -> datetime:
    """The request's moment (UTC, aware); tests move it with time-machine."""
    return datetime.now(UTC)


def env() -> Env:
    """The engine context of this request: the session, the logged-in user, now."""
    return Env(db.session, current_user._get_current_object(), now(), engine_config())


def inbox_scope() -> Scope:
    """What the user's inbox covers today (theirs, their groups', stand-ins'), once a request."""
    if "inbox_scope" not in g:
        context = env()
        g.inbox_scope = scope_of(context.session, context.user, context.today)
    return g.inbox_scope


def has_any_role(*roles: Role) -> bool:
    """Whether the logged-in user holds one of `roles` (for any department)."""
    return current_user.is_authenticated and any(current_user.has_role(r) for r in roles)


def requires(*roles: Role) -> Callable:
    """Decorator: log in first; 403 unless the user holds one of `roles` (admins hold all)."""

    def decorate(view):
        @wraps(view)
        @login_required
        def guarded(*args, **kwargs):
            if not has_any_role(*roles, Role.ADMIN):
                abort(403)
            return view(*args, **kwargs)

        return guarded

    return decorate


def perform(operation: Callable, *args, **kwargs):
    """Run one operation in the request's unit of work (commit, or roll back and re-raise)."""
    with unit_of_work():
        return operation(*args, **kwargs)


def perform_and_tell(operation: Callable, *args, done: str | Callable[[Any], str], **kwargs):
    """Run `operation` like `perform` and flash `done` (or `done(result)`) as a success; if it
    is refused (a DomainError), flash why in the user's language instead. The operation's
    result, or None when refused."""
    try:
        result = perform(operation, *args, **kwargs)
    except DomainError as exc:
        flash(exc.message(current_language()), "error")
        return None
    flash(str(done(result) if callable(done) else done), "success")
    return result


def sees_id_numbers() -> bool:
    """Whether the user may see whole ID numbers: the card office and administrators only."""
    return has_any_role(Role.CARD_OFFICE, Role.ADMIN)


def shown_id_number(number: str | None) -> str:
    """An ID number as this user may see it: whole for the card office, else masked."""
    if not number or sees_id_numbers():
        return number or ""
    return mask_id_number(number)


def yuan(fen: int | None) -> str:
    """An amount in fen as yuan with two decimals ("12.50")."""
    if fen is None:
        return ""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def register_filters(app) -> None:
    """Template filters: `id_number` (masked as the user may see it) and `yuan`."""
    app.jinja_env.filters.update(id_number=shown_id_number, yuan=yuan)

"""The unit of work: one commit per request or CLI job, and a rollback on any exception.

Operations below `app` only flush. A controller or command wraps its work::

    with unit_of_work():
        approve_task(db.session, ...)

or decorates itself with ``@unit_of_work()``. Nested units join the outermost one, which alone
commits. Side effects (mail, notifications) registered with `after_commit` run only once the
commit has succeeded, and are dropped on rollback.
"""

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session, scoped_session

from app.extensions import db

_DEPTH = "unit_of_work.depth"
_AFTER_COMMIT = "unit_of_work.after_commit"

log = logging.getLogger(__name__)


@contextmanager
def unit_of_work(session: Session | scoped_session | None = None) -> Iterator[Session]:
    """Commit `session` (default: db.session) at the end of the outermost unit; roll it back
    and re-raise if anything inside raises, the commit included."""
    session = session if session is not None else db.session
    depth = session.info.get(_DEPTH, 0)
    session.info[_DEPTH] = depth + 1
    try:
        yield session
        if depth == 0:
            session.commit()
    except BaseException:
        if depth == 0:
            session.rollback()
            session.info.pop(_AFTER_COMMIT, None)
        raise
    finally:
        session.info[_DEPTH] = depth
    if depth == 0:
        _run_after_commit(session)


def after_commit(callback: Callable[[], object], session: Session | None = None) -> None:
    """Run `callback` after the current unit of work commits; never if it rolls back."""
    session = session if session is not None else db.session
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


def _run_after_commit(session: Session | scoped_session) -> None:
    # The data is committed: a failing side effect is logged, not turned into an error page.
    for callback in session.info.pop(_AFTER_COMMIT, []):
        try:
            callback()
        except Exception:
            log.exception("after-commit callback %r failed", callback)

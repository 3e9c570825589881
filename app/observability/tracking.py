"""Every request's id and timing: the id is taken from the caller's X-Request-Id when it is a
sane token, or made new; it is set for the engine's audit rows and the log lines, and returned
in the response's X-Request-Id. When the request ends: its access line and its metrics."""

import re
import time
import uuid
from contextlib import suppress

from flask import Flask, Response, g, request
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from app.api.problems import is_api_request
from app.observability.logs import QUIET_PATHS, log_access
from app.observability.metrics import observe_request
from workflows.audit import REQUEST_ID

HEADER = "X-Request-Id"
#: What a caller's (or proxy's) request id may be: anything else is replaced, so that a log or
#: audit row never holds a forged line break, a huge value or markup.
SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def request_id_of(header: str | None) -> str:
    """The caller's id if it is sane, else a new one (32 hex digits)."""
    if header and SANE_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def start_request() -> None:
    """Before anything else of the request (CSRF and login checks included)."""
    g.request_started = time.perf_counter()
    g.request_id = request_id_of(request.headers.get(HEADER))
    g.request_id_token = REQUEST_ID.set(g.request_id)


def finish_request(response: Response) -> Response:
    """Return the id, write the access line and count the request."""
    seconds = time.perf_counter() - g.get("request_started", time.perf_counter())
    if "request_id" in g:
        response.headers[HEADER] = g.request_id
    _load_user()
    log_access(response.status_code, round(seconds * 1000, 1))
    observe_request(request.method, request.endpoint, response.status_code, seconds)
    return response


def _load_user() -> None:
    """Load the logged-in user for the access line when the view did not (a page open to
    all, say): one look-up by primary key, and only for a session that names a user. Not for
    the API (its caller is its token's, never the cookie's), static files or probes."""
    if request.endpoint in (None, "static") or request.path in QUIET_PATHS or is_api_request():
        return
    with suppress(SQLAlchemyError):  # the request's transaction failed: no user in the line
        current_user._get_current_object()


def end_request(_exc: BaseException | None) -> None:
    """The id is no longer this thread's (the next request must not inherit it)."""
    token = g.pop("request_id_token", None)
    if token is not None:
        try:
            REQUEST_ID.reset(token)
        except ValueError:  # set in another context (a copied one): nothing of ours to undo
            REQUEST_ID.set(None)


def register_tracking(app: Flask) -> None:
    """Install the hooks; the id is set first, before the extensions' own checks."""
    app.before_request_funcs.setdefault(None, []).insert(0, start_request)
    app.after_request(finish_request)
    app.teardown_request(end_request)

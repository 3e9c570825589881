"""Log lines on stderr, as JSON (one object a line) or as plain text, each carrying the id of
the request it was written in, and one access line per request.

The process has one such handler, on the root logger, so that every library's lines share the
format; building another app replaces it (the last app's LOG_FORMAT and LOG_LEVEL win).
"""

import json
import logging
import sys
from datetime import UTC, datetime
from typing import IO

from flask import Flask, g, has_request_context, request
from flask.logging import default_handler
from sqlalchemy import inspect

from workflows.audit import REQUEST_ID

access_log = logging.getLogger("app.access")

#: A LogRecord's own attributes; any other one came through `extra=` or the filter below and
#: becomes a field of the JSON line.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}

#: After the message and request_id, a JSON line's request fields come in this order.
_REQUEST_FIELDS = ("method", "path", "user_id", "device")

#: Libraries that log every step at INFO (SpiffWorkflow: each task's every state change):
#: WARNING and above only, unless LOG_LEVEL is stricter.
CHATTY_LOGGERS = ("spiff",)

#: Paths probed every few seconds (load balancer, Prometheus): their access lines are DEBUG.
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def _row_id(row) -> int | None:
    """A mapped row's primary key without loading it (it may be expired after a commit)."""
    state = inspect(row, raiseerr=False)
    return state.identity[0] if state is not None and state.identity else None


class RequestContext(logging.Filter):
    """Adds the request id (whenever one is set, in a request or a job) and, inside a web or
    API request, its method, path and the logged-in user or calling device."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
        if has_request_context():
            record.method, record.path = request.method, request.path
            user = g.get("_login_user") or g.get("api_user")  # only if already loaded
            if user is not None and getattr(user, "is_authenticated", False):
                record.user_id = _row_id(user)
            if g.get("api_device") is not None:
                record.device = g.api_device.actor
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC), level, logger, message, request_id, then the
    record's other fields (method, path, user_id, status, duration_ms ...) and any exception."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        line["request_id"] = fields.pop("request_id", None)
        line |= {key: fields.pop(key) for key in _REQUEST_FIELDS if key in fields} | fields
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`time LEVEL logger [request id] message` for a terminal ('-' outside a request)."""

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None) or "-"
        text = f"{self.formatTime(record)} {record.levelname} {record.name} [{request_id}] "
        text += record.getMessage()
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class ObservabilityHandler(logging.StreamHandler):
    """The app's log handler (a class of its own, so that a second app replaces it)."""


def make_handler(log_format: str, stream: IO[str] | None = None) -> logging.Handler:
    """A handler writing `log_format` ('json' or 'text') lines to `stream` (stderr)."""
    handler = ObservabilityHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(RequestContext())
    return handler


def configure_logging(app: Flask) -> None:
    """Send every logger's lines through one handler on the root logger, in LOG_FORMAT, at
    LOG_LEVEL; Flask's own handler on app.logger would print them twice."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, ObservabilityHandler)]:
        root.removeHandler(old)
    root.addHandler(make_handler(app.config["LOG_FORMAT"]))
    root.setLevel(app.config["LOG_LEVEL"].upper())
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(max(root.level, logging.WARNING))
    app.logger.removeHandler(default_handler)


def log_access(status: int, duration_ms: float) -> None:
    """The request's access line: method, path, status and duration (DEBUG for probes)."""
    level = logging.DEBUG if request.path in QUIET_PATHS else logging.INFO
    access_log.log(
        level, "%s %s %s %.1fms", request.method, request.path, status, duration_ms,
        extra={"status": status, "duration_ms": duration_ms, "remote_addr": request.remote_addr},
    )  # fmt: skip

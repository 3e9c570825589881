"""Observability (issue 8): structured logs, the request id, /metrics, /healthz and /readyz.

- `settings`: LOG_FORMAT, LOG_LEVEL, METRICS_TOKEN, READYZ_TIMEOUT from the environment.
- `logs`: JSON or text lines on stderr with the request id; the access line.
- `tracking`: each request's id (X-Request-Id) and timing, set for the audit trail too.
- `metrics`, `dbmetrics`: the Prometheus metrics; `views`: the three endpoints.
- `gunicorn_hooks`: gunicorn settings for prometheus_client's multiprocess mode.

docs/observability.md describes them for whoever runs the app.
"""

import os

from flask import Flask

from app.extensions import csrf
from app.observability import views
from app.observability.dbmetrics import JournalTally
from app.observability.logs import configure_logging
from app.observability.metrics import ensure_multiprocess_dir
from app.observability.settings import apply_settings
from app.observability.tracking import register_tracking


def register_observability(app: Flask) -> None:
    """Install logging, the request id and the health and metrics endpoints on `app`."""
    apply_settings(app, os.environ)
    configure_logging(app)
    register_tracking(app)
    ensure_multiprocess_dir()
    app.extensions[views.JOURNAL_KEY] = JournalTally()
    app.register_blueprint(views.bp)
    csrf.exempt(views.bp)

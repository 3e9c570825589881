"""/healthz, /readyz and /metrics: for load balancers, orchestrators and Prometheus, so no
login and no CSRF (they only read); /metrics may need a token (METRICS_TOKEN)."""

import contextvars
import hmac
import threading

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from app.api.auth import token_of_request
from app.extensions import db
from app.i18n import current_language
from app.main import database_is_up
from app.observability.dbmetrics import DatabaseCollector
from app.observability.metrics import exposition
from app.observability.settings import is_local
from app.web import now

bp = Blueprint("observability", __name__)

MESSAGES = {
    "not_ready": ("数据库暂时无法访问，服务尚未就绪。",
                  "The database does not answer: the service is not ready."),
    "metrics_token": ("读取监控指标需要 Authorization: Bearer <METRICS_TOKEN>。",
                      "Metrics need Authorization: Bearer <METRICS_TOKEN>."),
    "metrics_off": ("未设置 METRICS_TOKEN，生产环境不提供监控指标。",
                    "METRICS_TOKEN is not set, so production serves no metrics."),
}  # fmt: skip
#: Where each process keeps its journal tally (see dbmetrics.JournalTally).
JOURNAL_KEY = "observability.journal"


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _refusal(status: int, code: str, **fields) -> Response:
    """A JSON refusal with its message in the caller's language (Chinese by default)."""
    zh, en = MESSAGES[code]
    message = zh if current_language() == "zh" else en
    response = jsonify(status="error", code=code, message=message, **fields)
    response.status_code = status
    return _no_store(response)


@bp.get("/healthz")
def healthz():
    """200 while the process runs and answers; it does not touch the database."""
    return _no_store(jsonify(status="ok"))


def database_answers(app: Flask, timeout: float) -> bool:
    """Whether the database answers `SELECT 1` within `timeout` seconds. The check runs in
    a thread of its own so that an unreachable host costs the probe `timeout`, not the
    driver's connect timeout (the thread ends when the driver gives up)."""
    answers = []

    def check():
        with app.app_context():
            answers.append(database_is_up())

    context = contextvars.copy_context()  # the request id, for the check's own log lines
    thread = threading.Thread(target=context.run, args=(check,), name="readyz", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        app.logger.warning("readyz: no answer from the database within %.1f s", timeout)
    return answers == [True]


@bp.get("/readyz")
def readyz():
    """200 {"status": "ok"} when the database answers in READYZ_TIMEOUT seconds, else 503."""
    app = current_app._get_current_object()
    if database_answers(app, app.config["READYZ_TIMEOUT"]):
        return _no_store(jsonify(status="ok"))
    return _refusal(503, "not_ready", database="unavailable")


def metrics_refusal() -> Response | None:
    """None if the caller may read /metrics: with METRICS_TOKEN set, only with that bearer
    token; without it, anyone in development and testing, nobody in production."""
    token = current_app.config.get("METRICS_TOKEN")
    if token is None:
        return None if is_local(current_app) else _refusal(403, "metrics_off")
    given = token_of_request() or ""
    if hmac.compare_digest(given.encode(), token.encode()):
        return None
    response = _refusal(401, "metrics_token")
    response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return response


@bp.get("/metrics")
def metrics():
    """The Prometheus exposition: request metrics and the database's figures."""
    refused = metrics_refusal()
    if refused is not None:
        return refused
    journal = current_app.extensions[JOURNAL_KEY]
    body, content_type = exposition(
        DatabaseCollector(db.engine, now(), journal), request.headers.get("Accept")
    )
    return _no_store(Response(body, content_type=content_type))

"""One place that turns errors into responses: DomainError (ledger, workflows, forms), the
CSRF refusal and a database that cannot be reached, as JSON for API clients and as a small
page for browsers."""

from flask import Flask, current_app, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from app.api.problems import api_language, is_api_request, problem, status_problem
from app.i18n import current_language as preferred_language
from ledger.errors import DomainError
from reports.pdf import FontsMissing

CSRF_MESSAGES = {
    "zh": "表单已失效，请返回刷新页面后重试。",
    "en": "The form has expired; go back, reload the page and try again.",
}


def wants_json() -> bool:
    """Whether the client asked for JSON rather than a page."""
    if request.is_json or request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def error_response(status: int, code: str, message: str, lang: str):
    """The error as problem+json for the API, as JSON {"error": {"code", "message"}} for a
    page's script, or as the error page."""
    if is_api_request():
        return problem(status, code, message, lang)
    if wants_json():
        response = jsonify(error={"code": code, "message": message})
    else:
        response = current_app.make_response(
            render_template("error.html", status=status, code=code, message=message)
        )
    response.status_code = status
    response.headers["Content-Language"] = lang
    return response


def handle_domain_error(error: DomainError):
    """Map a DomainError to its status and its message in the user's language."""
    lang = api_language() if is_api_request() else preferred_language()
    return error_response(error.status, error.code, error.message(lang), lang)


def handle_csrf_error(error: CSRFError):
    """A form posted without a valid CSRF token: 400 with a readable message."""
    lang = preferred_language()
    return error_response(400, "csrf_failed", CSRF_MESSAGES.get(lang, CSRF_MESSAGES["en"]), lang)


HTTP_MESSAGES = {
    403: ("forbidden", "您没有权限访问此页面或执行此操作。", "You may not do this."),
    404: ("not_found", "页面或记录不存在。", "No such page or record."),
    405: ("method_not_allowed", "不支持此操作方式。", "This method is not allowed here."),
    413: (
        "too_large",
        "上传的内容超过 {megabytes} MB 的上限，未做任何处理；请压缩或拆分后重试。",
        "What you sent is larger than the {megabytes} MB limit, so nothing was done; make it "
        "smaller or send it in parts.",
    ),
    429: ("too_many_requests", "请求过于频繁，请稍后再试。", "Too many requests; try again later."),
}


def handle_http_error(error: HTTPException):
    """403, 404 ... as the error page (or JSON) in the user's language; the API's own
    problem for the API's requests. A body over MAX_CONTENT_LENGTH (413) names the limit."""
    if is_api_request() and error.code != 413:
        return status_problem(error.code)
    lang = api_language() if is_api_request() else preferred_language()
    code, zh, en = HTTP_MESSAGES[error.code]
    megabytes = (current_app.config.get("MAX_CONTENT_LENGTH") or 0) // (1024 * 1024)
    message = (zh if lang == "zh" else en).format(megabytes=megabytes)
    return error_response(error.code, code, message, lang)


FONTS_MISSING = (
    "打印字体尚未生成，暂时无法打印。请管理员运行 make fonts。",
    "The printing fonts have not been built, so nothing can be printed yet. An administrator "
    "runs `make fonts`.",
)


def handle_fonts_missing(error: FontsMissing):
    """A printout asked for before its fonts were built: 503, and the log says what to do."""
    current_app.logger.error("%s", error)
    lang = preferred_language()
    zh, en = FONTS_MISSING
    return error_response(503, "fonts_missing", zh if lang == "zh" else en, lang)


DATABASE_UNREACHABLE = (
    "数据库暂时无法连接，请稍后再试。",
    "The database cannot be reached just now; try again shortly.",
)
#: Seconds a client is asked to wait (Retry-After) while the database cannot be reached.
RETRY_AFTER_SECONDS = 10
#: PostgreSQL's SQLSTATEs of a server going down or not yet taking connections; class 08
#: (connection exceptions) counts too.
_SERVER_GONE = ("57P01", "57P02", "57P03")
#: The page of a 503 for a browser.
UNREACHABLE_PAGE = "database_unreachable.html"
_PAGE_TEXTS = {
    "zh": {"title": "暂时无法服务", "again": "重试"},
    "en": {"title": "Unavailable for now", "again": "Try again"},
}


def database_unreachable(error: DBAPIError) -> bool:
    """Whether `error` says the database cannot be reached (refused, lost, shutting down),
    rather than that a statement failed (a deadlock, a timeout, a constraint, a bug)."""
    if error.connection_invalidated or isinstance(error, InterfaceError):
        return True
    if not isinstance(error, OperationalError):
        return False
    # psycopg leaves sqlstate None for errors of the client side: the connection failed.
    state = getattr(error.orig, "sqlstate", "")
    return state is None or state.startswith("08") or state in _SERVER_GONE


def handle_database_error(error: DBAPIError):
    """The database cannot be reached: 503 with Retry-After and a message in the user's
    language, logged in one line (no traceback per request during an outage). Any other
    database error goes on to the 500 it was."""
    if not database_unreachable(error):
        raise error
    current_app.logger.warning(
        "database unreachable, 503 for %s %s: %s", request.method, request.path,
        " ".join(str(error.orig or error).split()),
    )  # fmt: skip
    lang = api_language() if is_api_request() else preferred_language()
    lang = lang if lang in _PAGE_TEXTS else "en"
    message = DATABASE_UNREACHABLE[0 if lang == "zh" else 1]
    if is_api_request() or wants_json():
        response = error_response(503, "database_unreachable", message, lang)
    else:
        # Straight from the template, without the context processors (Flask-Login's would
        # load the user from the database) and without base.html (its menu reads it too).
        page = current_app.jinja_env.get_template(UNREACHABLE_PAGE).render(
            lang=lang, message=message, request=request, **_PAGE_TEXTS[lang]
        )
        response = current_app.make_response((page, 503))
        response.headers["Content-Language"] = lang
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def register_error_handlers(app: Flask) -> None:
    """Install the handlers on `app`."""
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(DBAPIError, handle_database_error)
    app.register_error_handler(FontsMissing, handle_fonts_missing)
    app.register_error_handler(CSRFError, handle_csrf_error)
    for status in HTTP_MESSAGES:
        app.register_error_handler(status, handle_http_error)

"""One place that turns errors into responses: DomainError (ledger, workflows, forms) and the
CSRF refusal, as JSON for API clients and as a small page for browsers."""

from flask import Flask, current_app, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
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
    413: ("too_large", "上传的内容过大。", "What you sent is too large."),
    429: ("too_many_requests", "请求过于频繁，请稍后再试。", "Too many requests; try again later."),
}


def handle_http_error(error: HTTPException):
    """403, 404 ... as the error page (or JSON) in the user's language; the API's own
    problem for the API's requests."""
    if is_api_request():
        return status_problem(error.code)
    lang = preferred_language()
    code, zh, en = HTTP_MESSAGES[error.code]
    return error_response(error.code, code, zh if lang == "zh" else en, lang)


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


def register_error_handlers(app: Flask) -> None:
    """Install the handlers on `app`."""
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(FontsMissing, handle_fonts_missing)
    app.register_error_handler(CSRFError, handle_csrf_error)
    for status in HTTP_MESSAGES:
        app.register_error_handler(status, handle_http_error)

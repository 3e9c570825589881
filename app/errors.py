"""One place that turns errors into responses: DomainError (ledger, workflows, forms) and the
CSRF refusal, as JSON for API clients and as a small page for browsers."""

from flask import Flask, current_app, jsonify, render_template, request
from flask_wtf.csrf import CSRFError

from ledger.errors import DomainError

CSRF_MESSAGES = {
    "zh": "表单已失效，请返回刷新页面后重试。",
    "en": "The form has expired; go back, reload the page and try again.",
}


def preferred_language() -> str:
    """The first configured language (zh) unless the request prefers another of them.

    Ranks by quality alone, matching on the primary subtag: werkzeug's best_match would take
    an exact "en;q=0.5" over "zh-CN;q=0.9".
    """
    languages = current_app.config.get("LANGUAGES", ("zh", "en"))
    for value, quality in request.accept_languages:  # highest quality first
        primary = value.replace("_", "-").split("-", 1)[0].lower()
        if quality > 0 and primary in languages:
            return primary
    return languages[0]


def wants_json() -> bool:
    """Whether the client asked for JSON rather than a page."""
    if request.is_json or request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def error_response(status: int, code: str, message: str, lang: str):
    """The error as JSON {"error": {"code", "message"}} or as the error page."""
    if wants_json():
        response = jsonify(error={"code": code, "message": message})
    else:
        response = current_app.make_response(
            render_template("error.html", status=status, code=code, message=message, lang=lang)
        )
    response.status_code = status
    response.headers["Content-Language"] = lang
    return response


def handle_domain_error(error: DomainError):
    """Map a DomainError to its status and its message in the user's language."""
    lang = preferred_language()
    return error_response(error.status, error.code, error.message(lang), lang)


def handle_csrf_error(error: CSRFError):
    """A form posted without a valid CSRF token: 400 with a readable message."""
    lang = preferred_language()
    return error_response(400, "csrf_failed", CSRF_MESSAGES.get(lang, CSRF_MESSAGES["en"]), lang)


def register_error_handlers(app: Flask) -> None:
    """Install the handlers on `app`."""
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(CSRFError, handle_csrf_error)

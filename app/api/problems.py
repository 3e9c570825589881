"""Errors of the JSON API as `application/problem+json` (RFC 9457): a machine-readable `code`
that names the problem, its HTTP `status`, a `title` and a `detail` in the caller's language
(Accept-Language: simplified Chinese by default, English on request)."""

from flask import current_app, json, request

PROBLEM_TYPE = "application/problem+json"
#: HTTP statuses the API answers itself, with their codes and titles (zh, en).
STATUS_PROBLEMS = {
    400: ("bad_request", "请求格式错误。", "The request is malformed."),
    401: ("unauthorized", "需要有效的 API 令牌（Authorization: Bearer …）。",
          "A valid API token is needed (Authorization: Bearer …)."),
    403: ("forbidden", "无权执行此操作。", "You may not do this."),
    404: ("not_found", "资源不存在。", "No such resource."),
    405: ("method_not_allowed", "不支持此请求方法。", "This method is not allowed here."),
    409: ("conflict", "数据已被他人修改，请重新读取后再试。",
          "The data changed; read it again and retry."),
    413: ("too_large", "请求内容过大。", "The request is too large."),
    415: ("unsupported_media_type", "请以 JSON 发送请求体。", "Send the body as JSON."),
    422: ("invalid_input", "输入有误。", "The input is invalid."),
    429: ("too_many_requests", "请求过于频繁。", "Too many requests."),
}  # fmt: skip


def is_api_request() -> bool:
    """Whether this request is one of the API's (under /api/)."""
    return request.path.startswith("/api/")


def api_language() -> str:
    """The caller's language for messages: "en" if Accept-Language prefers English to
    Chinese, else "zh"."""
    best = request.accept_languages.best_match(["zh", "en"], default="zh")
    return "en" if best == "en" else "zh"


def problem(status: int, code: str, detail: str, lang: str, **extra):
    """A problem+json response."""
    body = {"type": "about:blank", "status": status, "code": code, "title": code, "detail": detail}
    response = current_app.response_class(
        json.dumps(body | extra, ensure_ascii=False), status=status, mimetype=PROBLEM_TYPE
    )
    response.headers["Content-Language"] = lang
    return response


def status_problem(status: int, **extra):
    """The API's problem for an HTTP status of its own (401, 404 ...)."""
    code, zh, en = STATUS_PROBLEMS.get(status, ("error", "请求失败。", "The request failed."))
    lang = api_language()
    return problem(status, code, en if lang == "en" else zh, lang, **extra)

"""The JSON API under /api/v1 (flask-smorest): marshmallow schemas describe every endpoint,
and the OpenAPI document is served at /api/v1/openapi.json. Callers authenticate with a
personal API token; errors are application/problem+json in the caller's language."""

from flask import Flask
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from app.api.problems import is_api_request, status_problem

SETTINGS = {
    "API_TITLE": "校园卡业务审批系统 API",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
    "API_SPEC_OPTIONS": {
        "security": [{"token": []}],
        "components": {
            "securitySchemes": {
                "token": {"type": "http", "scheme": "bearer",
                          "description": "a personal API token from /account/tokens"},
            }
        },
    },
}  # fmt: skip


class CardOfficeApi(Api):
    """flask-smorest's Api whose HTTP errors are problem+json, for the API's requests only:
    the web pages keep their own error pages."""

    def handle_http_exception(self, error: HTTPException):
        if not is_api_request():
            return error
        messages = (getattr(error, "data", None) or {}).get("messages")
        return status_problem(error.code, **({"errors": messages} if messages else {}))


api = CardOfficeApi()


def register_api(app: Flask) -> None:
    """Bind the API and its blueprints to `app`."""
    from app.api import workflows_api

    for name, value in SETTINGS.items():
        app.config.setdefault(name, value)
    api.init_app(app)
    api.register_blueprint(workflows_api.blp)

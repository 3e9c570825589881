"""The JSON API under /api/v1 (flask-smorest): marshmallow schemas describe every endpoint,
and the OpenAPI document is served at /api/v1/openapi.json. People authenticate with a
personal API token, terminals and kiosks with their device key; errors are
application/problem+json in the caller's language."""

from importlib import import_module

from flask import Flask
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from app.api.idempotency import conflict_problem
from app.api.openapi import ProblemResponses, ProblemSchema
from app.api.problems import is_api_request, status_problem
from ledger.errors import IdempotencyConflict

SETTINGS = {
    "API_TITLE": "校园卡业务审批系统 API",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
    # Browsable docs at /api/v1/docs: flask-smorest's Swagger UI page, with Swagger UI served
    # from the app's own copy (scripts/vendor_js.sh), no CDN; no online validator either.
    "OPENAPI_SWAGGER_UI_PATH": "docs",
    "OPENAPI_SWAGGER_UI_URL": "/static/vendor/swagger-ui/",
    "OPENAPI_SWAGGER_UI_CONFIG": {"validatorUrl": None},
    "API_SPEC_OPTIONS": {
        "security": [{"token": []}],
        "components": {
            "securitySchemes": {
                "token": {"type": "http", "scheme": "bearer",
                          "description": "a personal API token from /account/tokens"},
                "device_key": {"type": "http", "scheme": "bearer",
                               "description": "a terminal's or kiosk's key "
                                              "(flask devices issue)"},
            }
        },
    },
}  # fmt: skip


class CardOfficeApi(Api):
    """flask-smorest's Api whose HTTP errors are problem+json, for the API's requests only:
    the web pages keep their own error pages. Its OpenAPI document gives every operation its
    problem responses (app/api/openapi.py)."""

    ERROR_SCHEMA = ProblemSchema
    # No catch-all "default" response: each operation lists the statuses it answers.
    DEFAULT_ERROR_RESPONSE_NAME = None

    def __init__(self, app=None, *, spec_kwargs=None, config_prefix=""):
        spec_kwargs = {"extra_plugins": [ProblemResponses()], **(spec_kwargs or {})}
        super().__init__(app, spec_kwargs=spec_kwargs, config_prefix=config_prefix)

    def handle_http_exception(self, error: HTTPException):
        if not is_api_request():
            return error
        messages = (getattr(error, "data", None) or {}).get("messages")
        return status_problem(error.code, **({"errors": messages} if messages else {}))


api = CardOfficeApi()


#: The modules of the API, each with its blueprint `blp`.
MODULES = (
    "workflows_api", "actions_api", "cards_api", "merchants_api", "terminal_api", "kiosk_api",
)  # fmt: skip


def register_api(app: Flask) -> None:
    """Bind the API and its blueprints to `app`."""
    for name, value in SETTINGS.items():
        app.config.setdefault(name, value)
    api.init_app(app)
    app.register_error_handler(IdempotencyConflict, conflict_problem)
    for module in MODULES:
        api.register_blueprint(import_module(f"app.api.{module}").blp)

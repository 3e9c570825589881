"""The API's blueprints (flask-smorest, under /api/v1): each authenticates its requests by
API token, answers in the caller's language and is exempt from CSRF (no cookie authorises an
API call)."""

from flask import g
from flask_smorest import Blueprint

from app.api.auth import authenticate
from app.api.problems import api_language
from app.extensions import csrf

PREFIX = "/api/v1"


def api_blueprint(name: str, description: str) -> Blueprint:
    """A blueprint of the API named `name` (its OpenAPI tag), authenticated by token."""
    blueprint = Blueprint(f"api_{name}", __name__, url_prefix=PREFIX, description=description)
    blueprint.before_request(_before)
    csrf.exempt(blueprint)
    return blueprint


def _before() -> None:
    # Texts in the caller's language (Accept-Language), then who calls.
    g.forced_language = api_language()
    authenticate()

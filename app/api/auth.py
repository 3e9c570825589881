"""Who calls the API: a person by their personal API token (`Authorization: Bearer cco_…`),
acting with their own roles. The API never reads the session cookie, so a browser's login does
not authorise API calls (and CSRF, a cookie's risk, does not arise)."""

from flask import abort, g, request

from app.engine import engine_config
from app.extensions import db
from app.uow import unit_of_work
from app.web import now
from workflows.apitokens import user_of_token
from workflows.context import Env
from workflows.identity import User


def token_of_request() -> str | None:
    """The bearer token of the request's Authorization header, if any."""
    scheme, _space, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def authenticate() -> None:
    """Before every API request: the token's user in `g.api_user`, or 401."""
    token = token_of_request()
    with unit_of_work():  # the token's last use is noted (at most once a minute)
        user = user_of_token(db.session, token, now()) if token else None
    if user is None:
        abort(401)
    g.api_user = user


def api_user() -> User:
    """The user the request's token belongs to."""
    return g.api_user


def api_env() -> Env:
    """The engine context of this API request: the session, the token's user, now."""
    return Env(db.session, api_user(), now(), engine_config())

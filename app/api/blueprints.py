"""The API's blueprints (flask-smorest, under /api/v1): each answers in the caller's language,
is exempt from CSRF (no cookie authorises an API call) and authenticates its callers, people
by their API token or devices (terminals, kiosks) by their device key."""

from functools import partial

from flask import g
from flask_smorest import Blueprint

from app.api.auth import authenticate, authenticate_device
from app.api.problems import api_language
from app.extensions import csrf

PREFIX = "/api/v1"
#: Who may call a blueprint: how its requests authenticate, and its OpenAPI security scheme.
CALLERS = {
    "people": (authenticate, "token"),
    "terminals": (partial(authenticate_device, "terminal"), "device_key"),
    "kiosks": (partial(authenticate_device, "kiosk"), "device_key"),
}


def api_blueprint(name: str, description: str, callers: str = "people") -> Blueprint:
    """A blueprint of the API named `name` (its OpenAPI tag) whose `callers` ("people",
    "terminals" or "kiosks") authenticate as CALLERS says."""
    check, _scheme = CALLERS[callers]
    blueprint = Blueprint(f"api_{name}", __name__, url_prefix=PREFIX, description=description)

    def before() -> None:
        # Texts in the caller's language (Accept-Language), then who calls.
        g.forced_language = api_language()
        check()

    blueprint.before_request(before)
    csrf.exempt(blueprint)
    return blueprint


#: The OpenAPI `security` of a device's operation (`@blp.doc(security=DEVICE_SECURITY)`).
DEVICE_SECURITY = [{"device_key": []}]

"""Who calls the API. People call with a personal API token (`Authorization: Bearer cco_…`)
and act with their own roles. POS terminals, metering controllers and kiosks call with their
device key (`Authorization: Bearer cct_…`), bound to the device, its merchant and its location
(R23); a device states where it stands in every call, and a key used anywhere else is refused.

The API never reads the session cookie, so a browser's login does not authorise API calls
(and CSRF, a cookie's risk, does not arise)."""

from collections.abc import Callable
from functools import wraps

from flask import abort, g, request

from app.engine import engine_config
from app.extensions import db
from app.uow import unit_of_work
from app.web import now
from ledger.context import Ctx
from ledger.devicekeys import Device, device_of_key
from workflows.apitokens import user_of_token
from workflows.context import Env
from workflows.identity import Role, User


def token_of_request() -> str | None:
    """The bearer token of the request's Authorization header, if any."""
    scheme, _space, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def authenticate() -> None:
    """Before every request of a people's blueprint: the token's user in `g.api_user`, or
    401."""
    token = token_of_request()
    with unit_of_work():  # the token's last use is noted (at most once a minute)
        user = user_of_token(db.session, token, now()) if token else None
    if user is None:
        abort(401)
    g.api_user = user


def authenticate_device(kind: str) -> None:
    """Before every request of a terminals' or kiosks' blueprint: the key's device in
    `g.api_device`, or 401; 403 for another `kind` of device ("terminal", "kiosk"), and
    DeviceElsewhere (403) if the body's `location` is not where the key is bound (R23)."""
    token = token_of_request()
    body = request.get_json(silent=True)
    stated = body.get("location") if isinstance(body, dict) else None
    device = device_of_key(db.session, token, stated) if token else None
    if device is None:
        abort(401)
    if device.kind != kind:
        abort(403)
    g.api_device = device


def api_user() -> User:
    """The user the request's token belongs to."""
    return g.api_user


def allowed(*roles: Role) -> Callable:
    """Decorator: 403 unless the caller holds one of `roles` (administrators hold all),
    checked before the request's input is read."""

    def decorate(view):
        @wraps(view)
        def guarded(*args, **kwargs):
            user = api_user()
            if not any(user.has_role(role) for role in (*roles, Role.ADMIN)):
                abort(403)
            return view(*args, **kwargs)

        return guarded

    return decorate


def api_device() -> Device:
    """The device (terminal or kiosk) the request's key belongs to."""
    return g.api_device


def caller_id() -> str:
    """Who calls, for the ledger's idempotency keys and journal: `user:<id>` or the device's
    `terminal:<code>` / `kiosk:<code>`."""
    device = g.get("api_device")
    return device.actor if device is not None else f"user:{api_user().id}"


def api_env() -> Env:
    """The engine context of this API request: the session, the token's user, now."""
    return Env(db.session, api_user(), now(), engine_config())


def api_ctx() -> Ctx:
    """The ledger context of this API request: a person acts under their name (as on the
    web), a device under its code."""
    device = g.get("api_device")
    if device is None:
        return api_env().ledger_ctx()
    return Ctx(session=db.session, actor=device.actor, now=now(), config=engine_config().ledger)

"""Calling the JSON API in tests: clients that send a demo login's personal API token (or a
device's key), an Idempotency-Key where asked, and the caller's language."""

from datetime import UTC, datetime

import pytest

from app.auth.accounts import find_user
from app.extensions import db
from app.uow import unit_of_work
from ledger.context import Ctx
from ledger.devicekeys import issue_device_key
from workflows.apitokens import issue_token

PROBLEM = "application/problem+json"


def assert_role_check(reply, allowed: bool, what) -> None:
    """A cell of an authorisation matrix, called in English: a caller `allowed` gets past the
    role check (neither 401 nor 403), anyone else gets the 403 problem."""
    if allowed:
        assert reply.status_code not in (401, 403), (what, reply.json)
    else:
        assert reply.status_code == 403 and reply.mimetype == PROBLEM, what
        assert reply.json["code"] == "forbidden" and reply.json["detail"] == "You may not do this."


class ApiClient:
    """A test client that sends `Authorization: Bearer <token>` (and Accept-Language).

    Every method takes `key=` for an Idempotency-Key header and `headers=` for others."""

    def __init__(self, client, token: str | None, language: str | None = None):
        self.client, self.token, self.language = client, token, language

    def headers(self, key: str | None = None, extra: dict | None = None) -> dict:
        found = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        found |= {"Accept-Language": self.language} if self.language else {}
        found |= {"Idempotency-Key": key} if key else {}
        return found | (extra or {})

    def call(self, method: str, path: str, key=None, headers=None, **kwargs):
        send = getattr(self.client, method)
        return send(path, headers=self.headers(key, headers), **kwargs)

    def get(self, path: str, **kwargs):
        return self.call("get", path, **kwargs)

    def post(self, path: str, **kwargs):
        return self.call("post", path, **kwargs)

    def put(self, path: str, **kwargs):
        return self.call("put", path, **kwargs)

    def delete(self, path: str, **kwargs):
        return self.call("delete", path, **kwargs)


def token_of(app, username: str) -> str:
    """A new personal API token of the demo login `username`."""
    with app.app_context(), unit_of_work():
        user = find_user(db.session, username)
        return issue_token(db.session, user, "测试", datetime.now(UTC))[1]


@pytest.fixture
def api_as(web):
    """`api_as("approver")`: an API client with that login's token (None: no token)."""

    def client_of(username: str | None, language: str | None = None) -> ApiClient:
        token = token_of(web, username) if username else None
        return ApiClient(web.test_client(), token, language)

    return client_of


class DeviceClient(ApiClient):
    """An API client of a terminal or kiosk: its key, and its registered `location`, which
    `send` puts in every body unless the body states one."""

    def __init__(self, client, key: str, location: str, language: str | None = None):
        super().__init__(client, key, language)
        self.location = location

    def send(self, path: str, body: dict, key: str | None = None, **kwargs):
        return self.post(path, json={"location": self.location} | body, key=key, **kwargs)


def device_key_of(app, terminal: str | None = None, kiosk: str | None = None) -> tuple[str, str]:
    """A new key of the demo terminal or kiosk, and the location it is registered at."""
    with app.app_context(), unit_of_work():
        ctx = Ctx(session=db.session, actor="test", now=datetime.now(UTC))
        row, plain = issue_device_key(ctx, terminal_code=terminal, kiosk_code=kiosk)
        return plain, row.location


@pytest.fixture
def device_as(web):
    """`device_as(terminal="CANTEEN1-01")` or `device_as(kiosk="K01")`: a DeviceClient."""

    def client_of(terminal=None, kiosk=None, language: str | None = None) -> DeviceClient:
        key, location = device_key_of(web, terminal, kiosk)
        return DeviceClient(web.test_client(), key, location, language)

    return client_of

"""Calling the JSON API in tests: clients that send a demo login's personal API token."""

from datetime import UTC, datetime

import pytest

from app.auth.accounts import find_user
from app.extensions import db
from app.uow import unit_of_work
from workflows.apitokens import issue_token


class ApiClient:
    """A test client that sends `Authorization: Bearer <token>` (and Accept-Language)."""

    def __init__(self, client, token: str | None, language: str | None = None):
        self.client, self.token, self.language = client, token, language

    def headers(self) -> dict:
        found = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return found | ({"Accept-Language": self.language} if self.language else {})

    def get(self, path: str, **kwargs):
        return self.client.get(path, headers=self.headers(), **kwargs)

    def post(self, path: str, **kwargs):
        return self.client.post(path, headers=self.headers(), **kwargs)


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

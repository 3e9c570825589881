"""CSRF protection on every form, checked with it switched on (testing turns it off)."""

import re

import pytest


@pytest.fixture
def app_config():
    return {"WTF_CSRF_ENABLED": True}


def _token(page: str) -> str:
    tag = re.search(r'<input[^>]*name="csrf_token"[^>]*>', page).group(0)
    return re.search(r'value="([^"]+)"', tag).group(1)


def test_login_without_token_is_refused(client, make_user):
    make_user("zhang")
    response = client.post("/login", data={"username": "zhang", "password": "x"})
    assert response.status_code == 400
    assert "表单已失效" in response.get_data(as_text=True)


def test_login_with_token_works(client, make_user):
    make_user("zhang", password="pw-123456")
    token = _token(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"username": "zhang", "password": "pw-123456", "csrf_token": token}
    )
    assert response.status_code == 302


def test_logout_without_token_is_refused(client, make_user):
    make_user("zhang", password="pw-123456")
    token = _token(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"username": "zhang", "password": "pw-123456", "csrf_token": token})
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200  # still logged in
    page = client.get("/").get_data(as_text=True)
    assert client.post("/logout", data={"csrf_token": _token(page)}).status_code == 302


def test_csrf_refusal_in_english_and_json(client):
    response = client.post(
        "/login", headers={"Accept": "application/json", "Accept-Language": "en"}
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "csrf_failed"
    assert "expired" in response.get_json()["error"]["message"]

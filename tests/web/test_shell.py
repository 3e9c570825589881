"""The frame of every page: the menu by role with the open-task count, the language switch,
and the login limit."""

import shutil

import pytest

import app.nav
from app import create_app


def test_menu_shows_counter_only_to_the_card_office(as_user):
    clerk = as_user("cardoffice").get("/").get_data(as_text=True)
    secretary = as_user("applicant").get("/").get_data(as_text=True)
    assert "柜台" in clerk
    assert "柜台" not in secretary


def test_language_switch_turns_the_page_english_and_back(as_user):
    client = as_user("applicant")
    assert "退出登录" in client.get("/").get_data(as_text=True)
    reply = client.post("/language", data={"lang": "en", "next": "/"})
    assert reply.status_code == 302 and reply.headers["Location"] == "/"
    page = client.get("/").get_data(as_text=True)
    assert "Log out" in page and "退出登录" not in page
    client.post("/language", data={"lang": "zh", "next": "/"})
    assert "退出登录" in client.get("/").get_data(as_text=True)


def test_language_switch_refuses_another_site_as_next(as_user):
    reply = as_user("applicant").post("/language", data={"lang": "en", "next": "//evil.example"})
    assert reply.headers["Location"] == "/"


@pytest.mark.parametrize("failures, refused", [(4, False), (5, True)])
def test_login_is_refused_after_five_failures(web, failures, refused):
    client = web.test_client()
    for _ in range(failures):
        wrong = client.post("/login", data={"username": "approver", "password": "x"})
        assert wrong.status_code == 200
    reply = client.post("/login", data={"username": "approver", "password": "demo2026"})
    assert (reply.status_code == 429) is refused
    if refused:
        assert "登录失败次数过多" in reply.get_data(as_text=True)


def test_behind_a_trusted_proxy_login_limits_count_the_clients_address(demo_database, tmp_path):
    path = tmp_path / "proxy.sqlite3"
    shutil.copy(demo_database, path)
    app = create_app({"APP_CONFIG": "testing", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
                      "TRUSTED_PROXIES": 1, "LOGIN_MAX_FAILURES_PER_ADDRESS": 2})  # fmt: skip
    client = app.test_client()
    for _ in range(2):
        client.post("/login", data={"username": "nobody", "password": "x"},
                    headers={"X-Forwarded-For": "10.0.0.1"})  # fmt: skip
    other = client.post("/login", data={"username": "approver", "password": "demo2026"},
                        headers={"X-Forwarded-For": "10.0.0.2"})  # fmt: skip
    same = app.test_client().post("/login", data={"username": "approver", "password": "demo2026"},
                                  headers={"X-Forwarded-For": "10.0.0.1"})  # fmt: skip
    assert other.status_code == 302 and same.status_code == 429


def test_a_large_inbox_count_is_shown_as_a_cap(as_user, monkeypatch):
    monkeypatch.setattr(app.nav, "COUNT_CAP", 2)
    page = as_user("approver").get("/").get_data(as_text=True)  # two open tasks
    assert '<span class="count" title="待办数">1+</span>' in page

"""Login, logout, where the login sends the user next, the session token a session must
carry, and changing one's own password."""

import pytest

from app.auth.accounts import load_user, set_password
from app.auth.views import safe_next
from app.extensions import db
from app.uow import unit_of_work
from tests.app.conftest import DEFAULT_PASSWORD
from workflows.identity import User


def test_login_page_shows_the_form(client):
    response = client.get("/login")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'name="username"' in page and 'name="password"' in page


def test_landing_page_needs_a_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=%2F"


def test_login_success_shows_who_and_their_roles(client, login, make_user):
    make_user("zhang", display_name="张老师", roles=["dept_approver:CS", "card_office"])
    response = login(client, "zhang")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    page = client.get("/").get_data(as_text=True)
    assert "张老师" in page and "zhang" in page
    assert "部门审核人" in page and "CS学院" in page
    assert "卡务中心" in page and "全校" in page


@pytest.mark.parametrize(
    ("username", "password"),
    [("zhang", "wrong password"), ("nobody", "correct horse battery")],
    ids=["wrong-password", "unknown-user"],
)
def test_login_failure_says_so_and_logs_nobody_in(client, login, make_user, username, password):
    make_user("zhang")
    response = login(client, username, password)
    assert response.status_code == 200
    assert "用户名或密码错误" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_inactive_user_cannot_log_in(client, login, make_user):
    make_user("left", active=False)
    response = login(client, "left")
    assert "用户名或密码错误" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_empty_form_is_refused(client, login):
    response = login(client, "", "")
    assert response.status_code == 200
    assert "请输入用户名" in response.get_data(as_text=True)


def test_logout(client, login, make_user):
    make_user("zhang")
    login(client, "zhang")
    assert client.get("/").status_code == 200
    response = client.post("/logout")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert client.get("/").status_code == 302


def test_logout_is_post_only(client):
    assert client.get("/logout").status_code == 405


def test_login_goes_on_to_a_local_next(client, login, make_user):
    make_user("zhang")
    response = login(client, "zhang", next="/health?x=1")
    assert response.headers["Location"] == "/health?x=1"


OPEN_REDIRECTS = [
    "https://evil.example/",
    "//evil.example/",
    "///evil.example/",
    "/\\evil.example/",
    "\\\\evil.example/",
    "javascript:alert(1)",
    "evil.example",
    "/\r\nSet-Cookie: a=b",
    "/\x00",
    "",
]


@pytest.mark.parametrize("target", OPEN_REDIRECTS)
def test_login_refuses_a_next_off_site(client, login, make_user, target):
    make_user("zhang")
    response = login(client, "zhang", next=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("target", OPEN_REDIRECTS + [None])
def test_safe_next_refuses(target):
    assert safe_next(target) is None


@pytest.mark.parametrize("target", ["/", "/inbox?page=2", "/requests/7#history"])
def test_safe_next_keeps_local_paths(target):
    assert safe_next(target) == target


def test_logged_in_user_visiting_login_goes_on(client, login, make_user):
    make_user("zhang")
    login(client, "zhang")
    response = client.get("/login?next=/health")
    assert response.headers["Location"] == "/health"


# --- the session token ------------------------------------------------------------------------


def test_the_session_id_is_the_users_id_and_token_and_loads_only_with_both(app, make_user):
    user = make_user("zhang")
    with app.app_context():
        assert user.get_id() == f"{user.id}:{user.session_token}"
        assert load_user(user.get_id()).id == user.id
        for refused in (str(user.id), f"{user.id}:", f"{user.id}:{'0' * 32}", "x:y", "令牌"):
            assert load_user(refused) is None, refused


def test_a_new_password_gives_the_user_a_new_session_token(app, make_user):
    user = make_user("zhang")
    with app.app_context(), unit_of_work():
        again = db.session.get(User, user.id)
        set_password(again, "another password")
        assert again.session_token != user.session_token and len(again.session_token) == 32


# --- changing one's own password -----------------------------------------------------------

NEW = "new password 2026"


def change(client, current=DEFAULT_PASSWORD, new=NEW, repeat=None):
    """Post the password form."""
    data = {"current": current, "new": new, "repeat": NEW if repeat is None else repeat}
    return client.post("/account/password", data=data)


def test_changing_ones_password_needs_a_login(client):
    reply = client.get("/account/password")
    assert reply.status_code == 302 and reply.headers["Location"].startswith("/login")


def test_changing_ones_password_asks_for_the_current_one_and_the_new_one_twice(
    client, login, make_user
):
    make_user("zhang")
    login(client, "zhang")
    page = client.get("/account/password").get_data(as_text=True)
    assert page.count('type="password"') == 3 and "至少 8 个字符" in page


def test_a_changed_password_is_the_one_that_logs_in(app, client, login, make_user):
    make_user("zhang")
    login(client, "zhang")
    reply = change(client)
    assert reply.status_code == 302 and reply.headers["Location"] == "/"
    assert "密码已修改" in client.get("/").get_data(as_text=True)
    client.post("/logout")
    assert login(app.test_client(), "zhang").status_code == 200  # the old one: refused
    assert login(app.test_client(), "zhang", NEW).status_code == 302


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"current": "wrong password"}, "当前密码不正确"),
        ({"current": ""}, "请输入当前密码"),
        ({"new": "short", "repeat": "short"}, "新密码须为 8 至 128 个字符"),
        ({"new": "x" * 129, "repeat": "x" * 129}, "新密码须为 8 至 128 个字符"),
        ({"repeat": "not the same"}, "两次输入的新密码不一致"),
        ({"repeat": ""}, "请再次输入新密码"),
    ],
    ids=["wrong-current", "no-current", "too-short", "too-long", "differ", "no-repeat"],
)
def test_a_refused_password_change_says_why_and_changes_nothing(
    app, client, login, make_user, fields, message
):
    make_user("zhang")
    login(client, "zhang")
    reply = change(client, **fields)
    assert reply.status_code == 422
    assert message in reply.get_data(as_text=True)
    assert login(app.test_client(), "zhang").status_code == 302  # the old password still works


def test_password_errors_are_in_english_by_choice(client, login, make_user):
    make_user("zhang")
    login(client, "zhang")
    client.post("/language", data={"lang": "en", "next": "/"})
    page = change(client, repeat="not the same").get_data(as_text=True)
    assert "The two new passwords differ" in page and "Change password" in page
    page = change(client, current="wrong").get_data(as_text=True)
    assert "The current password is wrong" in page


def test_guessing_the_current_password_counts_as_failed_logins(app, client, login, make_user):
    make_user("zhang")
    login(client, "zhang")
    for _ in range(app.config["LOGIN_MAX_FAILURES_PER_USER"]):
        assert change(client, current="a guess").status_code == 422
    assert change(client).status_code == 429
    assert login(app.test_client(), "zhang").status_code == 429

"""Login, logout, and where the login sends the user next."""

import pytest

from app.auth.views import safe_next


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
